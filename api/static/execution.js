// The Execution page (/execution.html?id=EXECUTION_ID): its header (state, dates, labels, inputs, outputs,
// parent and child executions) with the actions its state allows, a Gantt of its task runs, the flow's
// topology coloured by state, and its logs. While it runs the server pushes changes (server-sent events:
// /api/v1/executions/{id}/follow and /api/v1/logs/{id}/follow); without them the page polls the execution.
"use strict";

const $ = (selector) => document.querySelector(selector);
const PAGE_SIZE = 1000;
const FIRST_PAGE = 200; // the first paint waits for this many task runs only
const MAX_LOG_LINES = 5000; // shown; older lines are dropped from the page (the API keeps them all)
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

const page = {
  id: new URLSearchParams(location.search).get("id") || "",
  execution: null,
  flow: null,
  gantt: null,
  cursors: new Map(), // row index -> the search's `after` cursor of the page that starts there
  walk: false, // a position the server could not reach (one millisecond of > 10,000 task runs): page by cursor
  loading: false,
  states: new Map(), // task run id -> [taskId, state] (what the topology counts)
  counts: new Map(), // taskId -> {state: n}, of the task runs loaded
  allCounts: null, // taskId -> {state: n}, of every task run (the server's counts), while not all are loaded
  countsTimer: null,
  children: new Map(), // child execution id -> task id (Subflow outputs)
  logs: [],
  logKeys: new Set(),
  selected: null,
  streams: [],
  pollTimer: null,
  confirming: null,
  me: null, // GET /api/v1/me: the buttons follow its roles
  childCount: 0, // the executions this one started (Subflow, ForEachItem), by the executions search
};

function showError(message) {
  const banner = $("#banner");
  banner.textContent = message || "";
  banner.hidden = !message;
}

const enc = encodeURIComponent;
const terminal = (state) => TERMINAL.includes(state);

// ---- the header

function executionLink(id, text) {
  return el("a", { href: executionHref(id), class: "id" }, text || id);
}

function renderHeader() {
  const ex = page.execution;
  const st = ex.state || {};
  document.title = `${ex.flowId} ${shortId(ex.id)} · Conveyor`;
  $("#exec-id").textContent = ex.id;
  $("#exec-state").replaceChildren(badge(st.current));
  const h = st.histories || [];
  const created = h.length ? h[0].date : null;
  const start = st.startDate || created;
  const end = st.endDate || (terminal(st.current) && h.length ? h[h.length - 1].date : null);
  const duration = st.durationMs ?? (start ? (end ? Date.parse(end) : Date.now()) - Date.parse(start) : null);
  const trigger = ex.trigger || null;
  const vars = (trigger && trigger.variables) || {};
  const parent = ex.parentId || (vars.executionId && vars.taskRunId ? vars.executionId : null);
  const meta = [
    ["Namespace", ex.namespace],
    ["Flow", el("a", { href: `/flows/${enc(ex.namespace)}/${enc(ex.flowId)}` }, ex.flowId)],
    ["Revision", ex.flowRevision],
    ["Created", formatDate(created)],
    ["Started", formatDate(start)],
    ["Ended", end ? formatDate(end) : terminal(st.current) ? "" : "—"],
    ["Duration", formatDuration(duration)],
    ["Trigger", trigger ? `${trigger.id} (${String(trigger.type || "").split(".").pop()})` : "manual"],
    ["Parent execution", parent ? executionLink(parent) : null],
    ["Replay of", ex.originalId ? executionLink(ex.originalId) : null],
    ["Child executions", childLinks()],
    ["Task runs", el("a", { href: taskRunsHref(ex.id) }, formatNumber(ex.taskRunCount ?? page.gantt.total))],
  ].filter(([, v]) => v !== null && v !== undefined && v !== "");
  $("#exec-meta").replaceChildren(...meta.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("#exec-labels").replaceChildren(...(ex.labels || []).map((l) => el("span", { class: "label-chip" }, `${l.key}: ${l.value}`)));
  $("#exec-inputs").textContent = ex.inputs && Object.keys(ex.inputs).length ? JSON.stringify(ex.inputs, null, 2) : "no inputs";
  $("#exec-outputs").textContent = ex.outputs && Object.keys(ex.outputs).length ? JSON.stringify(ex.outputs, null, 2) : "no outputs";
  $("#exec-files").replaceChildren(...fileLinks(ex.outputs));
  renderActions(st.current);
  const startMs = start ? Date.parse(start) : Date.now();
  page.gantt.setRange(startMs, end ? Date.parse(end) : Date.now());
  $("#gantt-range").textContent = start ? `${formatDate(start)} → ${end ? formatDate(end) : "now"}` : "";
}

// The children the loaded task runs name (a Subflow's `executionId` output), and every child by the search
// (a ForEachItem's too): a link to the Executions page filtered on this execution as their trigger.
function childLinks() {
  const named = [...page.children].map(([id, task]) => el("span", { class: "child" }, executionLink(id, shortId(id)), ` (${task}) `));
  const shown = Math.max(page.childCount, page.children.size);
  if (!shown) return null;
  const all = el("a", { href: `/executions?triggerExecutionId=${enc(page.id)}`, id: "children-link" }, `all ${formatNumber(shown)}`);
  return [...named, all];
}

async function loadChildCount() {
  const answer = await request(`/api/v1/executions/search?triggerExecutionId=${enc(page.id)}&size=1`);
  if (answer.total !== page.childCount) {
    page.childCount = answer.total;
    renderHeader();
  }
}

// The files an output names (kestra:/// URIs, at any depth): download links (GET .../file?path=).
function fileLinks(outputs) {
  const uris = new Set();
  const walk = (value, depth) => {
    if (uris.size >= 50 || depth > 6) return;
    if (typeof value === "string" && value.startsWith("kestra:///")) uris.add(value);
    else if (value && typeof value === "object") for (const v of Object.values(value)) walk(v, depth + 1);
  };
  walk(outputs, 0);
  return [...uris].map((uri) => el("li", {}, el("a", {
    href: `/api/v1/executions/${enc(page.id)}/file?path=${enc(uri)}`, download: "",
  }, uri.split("/").pop() || uri)));
}

// Only what the state allows (api/control.py answers 409 otherwise).
const ACTIONS = {
  kill: (s) => !terminal(s) && s !== "KILLING",
  pause: (s) => s === "RUNNING",
  resume: (s) => s === "PAUSED",
  restart: (s) => s === "FAILED" || s === "KILLED",
  replay: (s) => terminal(s),
  unqueue: (s) => s === "QUEUED",
};

// Shown when the state allows it; disabled (the tooltip says why) without the runner role on the namespace.
function renderActions(state) {
  const runner = allows(page.me, "runner", page.execution.namespace);
  const buttons = [...document.querySelectorAll("#actions [data-action]"), $("#replay-from"), $("#change-state-apply")];
  for (const button of buttons) {
    if (button.dataset.action) button.hidden = !ACTIONS[button.dataset.action](state);
    button.disabled = !runner;
    button.title = runner ? "" : `needs the runner role on ${page.execution.namespace}`;
  }
  $("#change-state").disabled = !runner;
}

// A first click asks to confirm (the button says so), a second one within 5 s does it.
function confirmed(button) {
  if (page.confirming === button) {
    page.confirming = null;
    button.textContent = button.dataset.label;
    return true;
  }
  if (page.confirming) page.confirming.textContent = page.confirming.dataset.label;
  page.confirming = button;
  button.dataset.label = button.dataset.label || button.textContent;
  button.textContent = `Confirm ${button.dataset.label.toLowerCase()}?`;
  setTimeout(() => {
    if (page.confirming === button) {
      page.confirming = null;
      button.textContent = button.dataset.label;
    }
  }, 5000);
  return false;
}

async function act(action, query = "", body = undefined, where = $("#action-result")) {
  where.textContent = "";
  try {
    const options = { method: "POST" };
    if (body instanceof FormData) options.body = body; // multipart: the browser sets its Content-Type
    else if (body !== undefined) {
      options.headers = { "Content-Type": "application/json" };
      options.body = JSON.stringify(body);
    }
    const answer = await request(`/api/v1/executions/${enc(page.id)}/${action}${query}`, options);
    if (answer.replayId) where.replaceChildren("Replayed as ", el("a", { href: executionHref(answer.replayId), id: "replay-link" }, answer.replayId));
    else where.textContent = `${action} requested (the execution was ${answer.state})`;
    if (!page.streams.length) schedulePoll(500);
    return true;
  } catch (error) {
    where.textContent = error.message;
    return false;
  }
}

// ---- resume: the onResume inputs of the paused Pause tasks, as a form

function tasksOf(list, out = []) {
  for (const task of list || []) {
    if (!task || typeof task !== "object") continue;
    out.push(task);
    for (const value of Object.values(task)) {
      if (Array.isArray(value)) tasksOf(value, out);
      else if (value && typeof value === "object") for (const v of Object.values(value)) if (Array.isArray(v)) tasksOf(v, out);
    }
  }
  return out;
}

// The onResume declarations of the flow's tasks that have a PAUSED task run (of all of them, counted by the
// server, when not all are loaded).
function resumeInputs() {
  if (!page.flow) return [];
  const counts = page.allCounts || page.counts;
  const seen = new Set();
  const inputs = [];
  for (const task of tasksOf([...(page.flow.tasks || []), ...(page.flow.errors || []), ...(page.flow.finally || [])])) {
    const paused = (counts.get(task.id) || {}).PAUSED;
    if (!paused || !Array.isArray(task.onResume)) continue;
    for (const input of task.onResume) if (input && input.id && !seen.has(input.id)) seen.add(input.id) && inputs.push(input);
  }
  return inputs;
}

async function submitResume(form, result) {
  // a form with a FILE input is sent as multipart/form-data (the file stored under the execution), else JSON
  const { body } = inputsBody(form);
  if (await act("resume", "", typeof body === "string" ? JSON.parse(body) : body, result)) {
    $("#action-result").textContent = result.textContent;
    page.resumeDialog.close();
  }
}

// ---- the task runs (Gantt, topology counts, child executions)

function count(run) {
  const before = page.states.get(run.id);
  if (before) {
    const c = page.counts.get(before[0]);
    if (c && c[before[1]]) c[before[1]]--;
    if (c && !c[before[1]]) delete c[before[1]];
  }
  const state = (run.state && run.state.current) || "CREATED";
  const c = page.counts.get(run.taskId) || {};
  c[state] = (c[state] || 0) + 1;
  page.counts.set(run.taskId, c);
  page.states.set(run.id, [run.taskId, state]);
  const child = run.outputs && run.outputs.executionId;
  if (typeof child === "string" && !page.children.has(child)) page.children.set(child, run.taskId);
}

// The cursor that reads the page at row `offset`: the one the page before it ended with; after a position the
// server could not reach, the nearest one before it (the pages in between are then read in order).
function cursorFor(offset) {
  if (page.cursors.has(offset)) return [offset, page.cursors.get(offset)];
  if (!page.walk) return null;
  let best = null;
  for (const at of page.cursors.keys()) if (at <= offset && (best === null || at > best)) best = at;
  return best === null ? null : [best, page.cursors.get(best)];
}

// One page of task runs at row `offset` of the start order: on from the page before by its cursor, or by
// position (/api/v1/executions/{id}/taskruns?offset=): a deep jump reads one page, not every page before it.
async function loadTaskRuns(offset, size) {
  if (page.loading) return;
  page.loading = true;
  try {
    const from = cursorFor(offset);
    let answer;
    let at;
    if (from) {
      const params = new URLSearchParams({ executionId: page.id, sort: "state.startDate:asc", size: String(size), after: from[1] });
      answer = await request("/api/v1/taskruns/search?" + params);
      at = from[0];
    } else {
      answer = await request(`/api/v1/executions/${enc(page.id)}/taskruns?offset=${offset}&size=${size}`);
      at = answer.offset;
      if (at + answer.results.length <= offset) page.walk = true;
    }
    for (const run of answer.results) count(run);
    page.gantt.setTotal(Math.max(answer.total, at + answer.results.length));
    page.gantt.put(at, answer.results);
    page.cursors.delete(at);
    if (answer.next) page.cursors.set(at + answer.results.length, answer.next);
    $("#gantt-count").textContent = formatNumber(page.gantt.total);
    $("#gantt-empty").hidden = page.gantt.total > 0;
    if (page.gantt.loaded >= page.gantt.total) page.allCounts = null; // all loaded: counted here
    redrawTopology();
  } finally {
    page.loading = false;
  }
}

// The Gantt asks for rows it has not got (the first and last missing ones in view): the page from the first.
async function needRows(first) {
  if (page.loading) return;
  try {
    await loadTaskRuns(first, PAGE_SIZE);
  } catch (error) {
    showError(error.message);
  }
}

// The topology of an execution not loaded in full is coloured from the server's counts of all its task runs
// (GET /api/v1/executions/{id}/taskruns/counts), read again at most every 2 s while task runs change.
async function loadCounts() {
  const answer = await request(`/api/v1/executions/${enc(page.id)}/taskruns/counts`);
  page.allCounts = new Map(Object.entries(answer.tasks));
  redrawTopology();
}

function countsChanged() {
  if (!page.allCounts || page.countsTimer) return;
  page.countsTimer = setTimeout(() => {
    page.countsTimer = null;
    loadCounts().catch((error) => showError(error.message));
  }, 2000);
}

let topologyTimer = null;
function redrawTopology() {
  if (!page.flow) return;
  clearTimeout(topologyTimer);
  topologyTimer = setTimeout(() => {
    const partial = page.gantt.loaded < page.gantt.total;
    drawTopology($("#topology"), page.flow, partial && page.allCounts ? page.allCounts : page.counts);
    let note = "";
    if (partial) {
      note = page.allCounts ? `states of all ${formatNumber(page.gantt.total)} task runs` : `states of the ${formatNumber(page.gantt.loaded)} task runs loaded`;
    }
    $("#topology-note").textContent = note;
  }, 50);
}

async function loadFlow() {
  const ex = page.execution;
  try {
    page.flow = await request(`/api/v1/flows/${enc(ex.namespace)}/${enc(ex.flowId)}?revision=${ex.flowRevision || 1}`);
    redrawTopology();
  } catch (error) {
    $("#topology").replaceChildren(el("p", { class: "muted exec-pad" }, `The flow is not available: ${error.message}`));
  }
}

// ---- the drawer: one task run

function openRun(run) {
  page.selected = run;
  const st = run.state || {};
  $("#drawer-title").replaceChildren(el("span", {}, run.taskId), badge(st.current));
  const meta = [
    ["Task run", run.id], ["Value", run.value], ["Iteration", run.iteration], ["Parent task run", run.parentTaskRunId],
    ["Start", formatDate(st.startDate)], ["End", formatDate(st.endDate)], ["Duration", formatDuration(taskRunDuration(run))],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  $("#drawer-meta").replaceChildren(...meta.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
  const rows = [];
  (run.attempts || []).forEach((attempt, i) => {
    const { start, end, ms } = attemptDates(attempt);
    rows.push(el("tr", { class: "attempt" }, el("td", {}, i + 1), el("td", {}, badge(attempt.state && attempt.state.current)),
      el("td", { class: "id" }, attempt.workerId || ""), el("td", { class: "date" }, formatDate(start)),
      el("td", { class: "date" }, formatDate(end)), el("td", { class: "num" }, formatDuration(ms))));
    if (attempt.error) rows.push(el("tr", { class: "error-row" }, el("td", { colspan: 6 }, attempt.error)));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 6, class: "none" }, "no attempt yet")));
  $("#attempts tbody").replaceChildren(...rows);
  $("#outputs").textContent = run.outputs && Object.keys(run.outputs).length ? JSON.stringify(run.outputs, null, 2) : "no outputs";
  $("#run-files").replaceChildren(...fileLinks(run.outputs));
  renderMetrics(run.attempts || []);
  const exState = page.execution.state.current;
  $("#replay-from").hidden = !terminal(exState);
  const changeable = terminal(st.current) || st.current === "PAUSED";
  $("#change-state").closest(".field").hidden = !changeable;
  $("#change-state-apply").hidden = !changeable;
  $("#drawer-result").textContent = "";
  const lines = page.logs.filter((l) => l.taskRunId === run.id);
  $("#logs").replaceChildren(...(lines.length ? lines.map(logLine) : [el("div", { class: "none" }, "no log lines")]));
  const drawer = $("#drawer");
  drawer.classList.add("open");
  drawer.removeAttribute("inert");
  $("#scrim").hidden = false;
  $("#drawer-close").focus();
}

// The counters and timers each attempt reported (its `metrics`: a worker's `duration` timer, a task's own).
function renderMetrics(attempts) {
  const rows = attempts.flatMap((attempt, i) => (attempt.metrics || []).map((m) => el("tr", { class: "metric" },
    el("td", {}, i + 1), el("td", { class: "id" }, m.name), el("td", {}, m.type),
    el("td", { class: "num" }, m.type === "timer" ? formatDuration(m.value * 1000) : String(m.value)),
    el("td", { class: "small" }, Object.entries(m.tags || {}).map(([k, v]) => `${k}=${v}`).join(", ")))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 5, class: "none" }, "no metrics")));
  $("#metrics tbody").replaceChildren(...rows);
}

function closeDrawer() {
  page.selected = null;
  $("#drawer").classList.remove("open");
  $("#drawer").setAttribute("inert", "");
  $("#scrim").hidden = true;
}

function runById(id) {
  return page.gantt.byId(id);
}

// ---- logs

function logKey(line) {
  return `${line.timestamp}|${line.taskRunId || ""}|${line.attemptNumber || ""}|${line.message}`;
}

function logLine(line) {
  const node = el("div", { class: `log ${line.level}`, "data-task-run": line.taskRunId || "" },
    el("span", { class: "muted" }, formatDate(line.timestamp).slice(11)),
    el("span", { class: "lvl" }, line.level),
    el("span", { class: "msg" }, line.taskId ? el("b", { class: "log-task" }, line.taskId + " ") : null, line.message),
  );
  if (line.taskRunId) {
    node.tabIndex = 0;
    node.title = "open its task run";
    const open = () => {
      const run = runById(line.taskRunId);
      if (run) openRun(run);
    };
    node.addEventListener("click", open);
    node.addEventListener("keydown", (event) => event.key === "Enter" && open());
  }
  return node;
}

function shownLine(line) {
  const min = LEVELS.indexOf($("#log-level").value);
  const text = $("#log-search").value.trim().toLowerCase();
  return LEVELS.indexOf(line.level) >= min && (!text || String(line.message).toLowerCase().includes(text));
}

function addLogs(lines) {
  const fresh = [];
  for (const line of lines) {
    const key = logKey(line);
    if (page.logKeys.has(key)) continue;
    page.logKeys.add(key);
    page.logs.push(line);
    fresh.push(line);
  }
  if (page.logs.length > MAX_LOG_LINES) {
    for (const old of page.logs.splice(0, page.logs.length - MAX_LOG_LINES)) page.logKeys.delete(logKey(old));
    renderLogs();
    return;
  }
  const box = $("#exec-logs");
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const shown = fresh.filter(shownLine).map(logLine);
  if (shown.length) {
    box.querySelector(".none")?.remove();
    box.append(...shown);
  }
  if (atEnd) box.scrollTop = box.scrollHeight;
  $("#logs-count").textContent = formatNumber(page.logs.length);
}

function renderLogs() {
  const shown = page.logs.filter(shownLine).map(logLine);
  $("#exec-logs").replaceChildren(...(shown.length ? shown : [el("div", { class: "none exec-pad" }, "no log lines")]));
  $("#logs-count").textContent = formatNumber(page.logs.length);
}

async function loadLogs() {
  const lines = await request(`/api/v1/logs/${enc(page.id)}?minLevel=TRACE`);
  addLogs(lines);
  if (!page.logs.length) renderLogs();
}

// ---- live: server-sent events while the execution runs; polling when they are not available

function follow() {
  if (!window.EventSource || terminal(page.execution.state.current)) return false;
  const changes = new EventSource(`/api/v1/executions/${enc(page.id)}/follow`);
  const logs = new EventSource(`/api/v1/logs/${enc(page.id)}/follow?minLevel=TRACE`);
  page.streams = [changes, logs];
  $("#log-live").textContent = "live";
  changes.addEventListener("execution", (event) => {
    const ex = JSON.parse(event.data);
    if ((ex.revision ?? 0) < (page.execution.revision ?? 0)) return;
    page.execution = { ...page.execution, ...ex };
    renderHeader();
  });
  changes.addEventListener("taskrun", (event) => {
    const run = JSON.parse(event.data);
    count(run);
    countsChanged();
    page.gantt.update(run);
    $("#gantt-count").textContent = formatNumber(page.gantt.total);
    $("#gantt-empty").hidden = page.gantt.total > 0;
    redrawTopology();
    if (page.selected && page.selected.id === run.id) openRun(run);
  });
  logs.addEventListener("log", (event) => addLogs([JSON.parse(event.data)]));
  for (const stream of page.streams) {
    // the server ends a stream after the execution ended (`end`) or when the page fell behind (`overflow`):
    // closed here, or EventSource would connect again
    stream.addEventListener("end", () => {
      stream.close();
      if (page.streams.every((s) => s.readyState === EventSource.CLOSED)) stopFollowing();
    });
    stream.addEventListener("overflow", () => {
      stopFollowing();
      schedulePoll(1000);
    });
    stream.addEventListener("error", () => {
      if (stream.readyState === EventSource.CLOSED) {
        stopFollowing();
        schedulePoll(2000);
      }
    });
  }
  return true;
}

function stopFollowing() {
  if (!page.streams.length) return;
  for (const stream of page.streams) stream.close();
  page.streams = [];
  $("#log-live").textContent = "";
  refresh(); // the final state, as indexed
}

function schedulePoll(ms) {
  clearTimeout(page.pollTimer);
  page.pollTimer = setTimeout(refresh, ms);
}

async function refresh() {
  try {
    page.execution = await request(`/api/v1/executions/${enc(page.id)}?taskRuns=false`);
    page.cursors.clear();
    page.walk = false;
    await loadTaskRuns(0, Math.min(PAGE_SIZE, Math.max(FIRST_PAGE, page.gantt.loaded)));
    if (page.gantt.loaded < page.gantt.total) await loadCounts();
    renderHeader();
    redrawTopology();
    await loadLogs();
    if (!terminal(page.execution.state.current) && !page.streams.length) schedulePoll(3000);
  } catch (error) {
    showError(error.message);
  }
}

// ---- start

async function start() {
  const me = whoAmI(); // asked beside the execution, not before it
  if (!page.id) {
    showError("No execution: open this page as /execution.html?id=EXECUTION_ID.");
    return;
  }
  page.gantt = createGantt({
    body: $("#gantt-body"), spacer: $("#gantt-spacer"), rows: $("#gantt-rows"), ticks: $("#gantt-ticks"),
    onOpen: openRun, need: needRows,
  });
  for (const button of document.querySelectorAll("#actions [data-action]")) {
    button.addEventListener("click", () => {
      const inputs = button.dataset.action === "resume" ? resumeInputs() : [];
      if (inputs.length) page.resumeDialog.open(inputs);
      else if (confirmed(button)) act(button.dataset.action);
    });
  }
  page.resumeDialog = inputsDialog("resume", {
    title: "Resume", note: "The inputs the paused tasks ask for on resume (onResume).", action: "Resume",
    submit: submitResume, opener: () => $('#actions [data-action="resume"]'),
  });
  $("#replay-from").addEventListener("click", () => act("replay", "?taskRunId=" + enc(page.selected.id), undefined, $("#drawer-result")));
  $("#change-state-apply").addEventListener("click", () => {
    const state = $("#change-state").value;
    if (state) act("state", "", { taskRunId: page.selected.id, state }, $("#drawer-result"));
  });
  $("#drawer-close").addEventListener("click", closeDrawer);
  $("#scrim").addEventListener("click", closeDrawer);
  document.addEventListener("keydown", (event) => event.key === "Escape" && !event.defaultPrevented && closeDrawer());
  $("#log-level").addEventListener("change", renderLogs);
  let searchTimer = null;
  $("#log-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(renderLogs, 200);
  });
  try {
    page.execution = await request(`/api/v1/executions/${enc(page.id)}?taskRuns=false`);
    page.me = await me;
  } catch (error) {
    showError(error.message);
    return;
  }
  const live = follow(); // before the first reads: nothing published meanwhile is missed
  renderHeader();
  try {
    await loadTaskRuns(0, FIRST_PAGE);
    renderHeader(); // the child executions the first page named
    document.body.dataset.painted = String(performance.now()); // the time to first paint (bench/, tests)
  } catch (error) {
    showError(error.message);
  }
  if (page.gantt.loaded < page.gantt.total) loadCounts().catch((error) => showError(error.message));
  loadFlow();
  loadChildCount().catch((error) => showError(error.message));
  loadLogs().catch((error) => showError(error.message));
  if (!live && !terminal(page.execution.state.current)) schedulePoll(3000);
}

start();
