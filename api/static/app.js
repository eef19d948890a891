// The Task Runs page: filters, daily chart, sortable and paged table, a drawer with one task run's detail.
// Everything it shows comes from the server's own /api/v1 (same origin); its state lives in the URL.
"use strict";

// The text fields of the filter form; `labels` ("env:prod team:a") becomes one `labels` parameter per pair.
const TEXT_FILTERS = ["q", "namespace", "flowId", "taskId", "executionId", "triggerId", "labels"];
const PLAIN_FILTERS = TEXT_FILTERS.filter((name) => name !== "labels");
const DEFAULT_SORT = "state.startDate:desc";
const PAGING = { sort: DEFAULT_SORT, size: 25 };
const MAX_CHART_DAYS = 731;

const $ = (selector) => document.querySelector(selector);
const form = $("#filters");
filterBar(form, [
  [
    searchField("Search", "ids, flows, tasks, values…"), FILTER_FIELDS.namespace, FILTER_FIELDS.flowId, FILTER_FIELDS.taskId,
    FILTER_FIELDS.executionId, { name: "triggerId", label: "Trigger", placeholder: "trigger id" },
    { name: "labels", label: "Labels", placeholder: "env:prod team:a" }, ...dateFields("Started"),
  ],
  ["states", "clear"],
]);

const view = {
  filters: {
    q: "", namespace: "", flowId: "", taskId: "", executionId: "", labels: "", state: [], startDate: "", endDate: "",
  },
  sort: DEFAULT_SORT,
  size: 25,
  page: 1,
  cursors: {}, // page number -> the `after` cursor that reaches it (pages reached by cursor)
  results: [],
  selected: null,
  refresh: Number(document.body.dataset.refresh) || 0,
};

function filterParams() {
  const params = new URLSearchParams();
  for (const name of PLAIN_FILTERS) if (view.filters[name]) params.set(name, view.filters[name]);
  for (const pair of labelPairs(view.filters.labels)) params.append("labels", pair);
  for (const state of view.filters.state) params.append("state", state);
  if (view.filters.startDate) params.set("startDate", view.filters.startDate);
  if (view.filters.endDate) params.set("endDate", view.filters.endDate);
  return params;
}

// ---- URL <-> view

function readUrl() {
  const params = new URLSearchParams(location.search);
  for (const name of PLAIN_FILTERS) view.filters[name] = params.get(name) || "";
  view.filters.labels = params.getAll("labels").join(" ");
  view.filters.state = params.getAll("state").filter((s) => STATES.includes(s));
  view.filters.startDate = params.get("startDate") || "";
  view.filters.endDate = params.get("endDate") || "";
  readPaging(view, params, PAGING);
  if (params.has("refresh")) view.refresh = Number(params.get("refresh")) || 0;
}

const controls = listControls(view, form, { paging: PAGING, text: TEXT_FILTERS, params: filterParams, load: () => loadAll() });
const [writeUrl, fillForm, filtersChanged] = [controls.writeUrl, controls.fill, controls.changed];

// ---- loading

async function loadAll() {
  clearError();
  const spinner = $(".refresh");
  spinner.classList.add("spinning");
  try {
    await Promise.all([loadTable(), loadChart(), loadTriggers()]);
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    showError(error.message);
  } finally {
    spinner.classList.remove("spinning");
  }
}

async function loadTable() {
  if (!(await searchPage(view, "/api/v1/taskruns/search", pageParams(view, filterParams())))) return;
  renderTable();
  if (view.selected) {
    const fresh = view.results.find((r) => r.id === view.selected.id);
    if (fresh) openDrawer(fresh, false);
  }
}

// The triggers of the flows the filters name (a namespace or a flow), with their next date: /api/v1/triggers.
async function loadTriggers() {
  const card = $("#triggers-card");
  const { namespace, flowId } = view.filters;
  if (!namespace && !flowId) { card.hidden = true; return; }
  const params = new URLSearchParams();
  if (namespace) params.set("namespace", namespace);
  const rows = (await request(`/api/v1/triggers?${params}`)).filter((t) => !flowId || t.flowId === flowId);
  card.hidden = rows.length === 0;
  $("#triggers-count").textContent = rows.length ? String(rows.length) : "";
  const type = (t) => t.type.split(".").pop();
  const status = (t) => t.enabled ? "enabled" : `disabled (${t.disabledBy})`;
  $("#triggers tbody").replaceChildren(...rows.map((t) => el("tr", { class: t.enabled ? null : "muted" },
    el("td", null, `${t.namespace}.${t.flowId}`),
    el("td", null, el("a", { href: "#", onclick: (e) => { e.preventDefault(); view.filters.triggerId = t.triggerId; fillForm(); filtersChanged(); } }, t.triggerId)),
    el("td", { title: t.type }, type(t) + (t.cron ? ` ${t.cron}` : "")),
    el("td", { title: t.stoppedAfter ? `stopped after execution ${t.stoppedAfter.executionId} ended ${t.stoppedAfter.state}` : null }, status(t)),
    el("td", null, formatDate(t.next)),
    el("td", null, formatDate(t.last)))));
}

function chartWindow() {
  const end = view.filters.endDate ? new Date(view.filters.endDate) : new Date();
  let start = view.filters.startDate ? new Date(view.filters.startDate) : new Date(end.getTime() - 29 * 86400000);
  if ((end - start) / 86400000 >= MAX_CHART_DAYS) start = new Date(end.getTime() - (MAX_CHART_DAYS - 1) * 86400000);
  if (start > end) start = end;
  return { startDate: localDay(start), endDate: localDay(end) };
}

async function loadChart() {
  const body = { ...chartWindow(), timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" };
  for (const name of PLAIN_FILTERS) if (view.filters[name]) body[name] = view.filters[name];
  const labels = labelPairs(view.filters.labels);
  if (labels.length) body.labels = labels;
  if (view.filters.state.length) body.state = view.filters.state;
  const days = await request("/api/v1/stats/taskruns/daily", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  view.days = days;
  renderChart($("#chart"), $("#chart-legend"), $("#tooltip"), days, pickDay);
  renderSummary(days);
}

function renderSummary(days) {
  let runs = 0, failed = 0, count = 0, sum = 0;
  for (const day of days) {
    for (const [state, n] of Object.entries(day.counts)) {
      runs += n;
      if (state === "FAILED" || state === "KILLED") failed += n;
    }
    count += day.duration.count || 0;
    sum += day.duration.sum || 0;
  }
  const rate = runs ? ((100 * failed) / runs).toFixed(1) + "%" : "–";
  $("#chart-summary").replaceChildren(
    el("span", {}, el("b", {}, formatNumber(runs)), "task runs"),
    el("span", {}, el("b", {}, rate), "failed or killed"),
    el("span", {}, el("b", {}, count ? formatDuration(sum / count) : "–"), "average duration"),
    el("span", { class: "muted" }, `${days[0].startDate} → ${days[days.length - 1].startDate}`),
  );
}

function pickDay(day) {
  const [y, m, d] = day.startDate.split("-").map(Number);
  view.filters.startDate = new Date(y, m - 1, d, 0, 0, 0).toISOString();
  view.filters.endDate = new Date(y, m - 1, d, 23, 59, 59, 999).toISOString();
  fillForm();
  filtersChanged();
}

// ---- the table

function renderTable() {
  const body = $("#taskruns tbody");
  body.replaceChildren(...view.results.map(row));
  $("#empty").hidden = view.results.length > 0;
  $("#total").textContent = view.totalExact === false ? `${formatNumber(view.total)}+` : formatNumber(view.total);
  renderPager(view, view.results.length);
  markSorted($("#taskruns"), view.sort);
}

function row(run) {
  const st = run.state || {};
  const execution = el("a", { href: "#", class: "id", title: `only execution ${run.executionId}` }, shortId(run.executionId));
  execution.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopPropagation();
    view.filters.executionId = run.executionId;
    fillForm();
    filtersChanged();
  });
  const tr = el(
    "tr",
    { "data-id": run.id, "data-state": st.current, class: view.selected && view.selected.id === run.id ? "selected" : null },
    el("td", { class: "id", title: run.id }, shortId(run.id)),
    el("td", {}, execution),
    el("td", { class: "ns" }, run.namespace),
    el("td", {}, run.flowId),
    el("td", { class: "task" }, run.taskId),
    el("td", { class: "value", title: run.value || "" }, run.value || ""),
    el("td", { class: "num" }, run.attemptsCount ?? (run.attempts || []).length),
    el("td", {}, badge(st.current)),
    el("td", { class: "date" }, formatDate(st.startDate)),
    el("td", { class: "date" }, formatDate(st.endDate)),
    el("td", { class: "num date" }, formatDuration(taskRunDuration(run))),
  );
  tr.addEventListener("click", () => openDrawer(run, true));
  return tr;
}

// ---- the drawer

async function openDrawer(run, fetchNow) {
  if (fetchNow) $("#logs").replaceChildren(el("div", { class: "none", style: "padding: 8px 10px" }, "loading…"));
  view.selected = run;
  for (const tr of document.querySelectorAll("#taskruns tbody tr")) tr.classList.toggle("selected", tr.dataset.id === run.id);
  const st = run.state || {};
  $("#drawer-title").replaceChildren(el("span", {}, run.taskId), badge(st.current));
  const meta = [
    ["Task run", run.id], ["Execution", run.executionId], ["Namespace", run.namespace], ["Flow", run.flowId],
    ["Value", run.value], ["Iteration", run.iteration], ["Parent task run", run.parentTaskRunId],
    ["Worker", run.workerId], ["Start", formatDate(st.startDate)], ["End", formatDate(st.endDate)],
    ["Duration", formatDuration(taskRunDuration(run))], ["Revision", run.revision],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  $("#drawer-meta").replaceChildren(...meta.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
  renderAttempts(run.attempts || []);
  $("#outputs").textContent = run.outputs && Object.keys(run.outputs).length ? JSON.stringify(run.outputs, null, 2) : "no outputs";
  renderOutputFiles(run);
  const drawer = $("#drawer");
  drawer.classList.add("open");
  drawer.removeAttribute("inert"); // closed, it is inert: out of the tab order and the accessibility tree
  $("#scrim").hidden = false;
  if (fetchNow) $("#drawer-close").focus(); // opened by the user (not refreshed)
  if (fetchNow || view.refresh) await loadLogs(run);
}

// Commands' outputFiles (name -> kestra:/// URI): each a download link of the execution's file.
function renderOutputFiles(run) {
  const files = (run.outputs && run.outputs.outputFiles) || {};
  const names = typeof files === "object" ? Object.keys(files) : [];
  $("#output-files-title").hidden = names.length === 0;
  $("#output-files").replaceChildren(...names.map((name) => {
    const href = "/api/v1/executions/" + encodeURIComponent(run.executionId) + "/file?path=" + encodeURIComponent(files[name]);
    return el("li", {}, el("a", { href, download: name.split("/").pop() }, name));
  }));
}

function renderAttempts(attempts) {
  const rows = [];
  attempts.forEach((attempt, i) => {
    const { start, end, ms } = attemptDates(attempt);
    rows.push(el("tr", { class: "attempt" },
      el("td", {}, i + 1),
      el("td", {}, badge(attempt.state && attempt.state.current)),
      el("td", { class: "id" }, attempt.workerId || ""),
      el("td", { class: "date" }, formatDate(start)),
      el("td", { class: "date" }, formatDate(end)),
      el("td", { class: "num" }, formatDuration(ms)),
    ));
    if (attempt.error) rows.push(el("tr", { class: "error-row" }, el("td", { colspan: 6 }, attempt.error)));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 6, class: "none" }, "no attempt yet")));
  $("#attempts tbody").replaceChildren(...rows);
}

async function loadLogs(run) {
  const logs = $("#logs");
  try {
    const params = new URLSearchParams({ taskRunId: run.id });
    const lines = await request(`/api/v1/logs/${encodeURIComponent(run.executionId)}?${params}`);
    if (!view.selected || view.selected.id !== run.id) return;
    logs.replaceChildren(...(lines.length ? lines.map((line) => el("div", { class: `log ${line.level}` },
      el("span", { class: "muted" }, formatDate(line.timestamp).slice(11)),
      el("span", { class: "lvl" }, line.level),
      el("span", { class: "msg" }, line.message),
    )) : [el("div", { class: "none", style: "padding: 8px 10px" }, "no log lines")]));
  } catch (error) {
    logs.replaceChildren(el("div", { class: "none", style: "padding: 8px 10px" }, `logs unavailable: ${error.message}`));
  }
}

function closeDrawer() {
  view.selected = null;
  $("#drawer").classList.remove("open");
  $("#drawer").setAttribute("inert", "");
  $("#scrim").hidden = true;
  for (const tr of document.querySelectorAll("#taskruns tbody tr.selected")) tr.classList.remove("selected");
}

// ---- errors, health, refresh

function showError(message) {
  const banner = $("#error");
  banner.textContent = message;
  banner.hidden = false;
}

function clearError() { $("#error").hidden = true; }

// ---- wiring

function wire() {
  stateChips($("#state-chips"), (states) => { view.filters.state = states; filtersChanged(); });
  wireFilterForm(form, view, TEXT_FILTERS, filtersChanged);
  $("#clear").addEventListener("click", () => {
    view.filters = { q: "", namespace: "", flowId: "", taskId: "", executionId: "", state: [], startDate: "", endDate: "" };
    fillForm();
    filtersChanged();
  });
  sortableHeads($("#taskruns"), view, ["id", "executionId", "namespace", "flowId", "taskId", "state.current"], filtersChanged);
  $("#size").addEventListener("change", () => { view.size = Number($("#size").value); filtersChanged(); });
  wirePager(view, () => { writeUrl(); loadAll(); });
  autoRefresh($("#refresh"), view.refresh, loadAll);
  $("#drawer-close").addEventListener("click", closeDrawer);
  $("#scrim").addEventListener("click", closeDrawer);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeDrawer(); });
  window.addEventListener("resize", debounce(() => {
    if (view.days) renderChart($("#chart"), $("#chart-legend"), $("#tooltip"), view.days, pickDay);
  }, 150));
}

readUrl();
wire();
fillForm();
loadAll();
