// The Flows page: the deployed flows (search by namespace and id) and one flow's page — its YAML in a code
// editor that shows the API's validation errors at their line while typing, Save (= deploy a new revision),
// its revisions with a diff, its triggers with their next date (each disabled or enabled again from here),
// and Execute (a form made from its inputs).
// /flows lists, /flows/NS/ID shows a flow, /flows/new starts a new one.
"use strict";

const $ = (selector) => document.querySelector(selector);

const NEW_FLOW = `id: hello
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello from Conveyor
`;

const page = { namespace: "", id: "", latest: 0, editor: null, saved: "", flows: [] };

function showError(message) {
  const banner = $("#banner");
  banner.textContent = message || "";
  banner.hidden = !message;
}

function route() {
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 3 && parts[0] === "flows") return { view: "flow", namespace: parts[1], id: parts[2] };
  if (parts.length === 2 && parts[1] === "new") return { view: "new" };
  return { view: "list" };
}

// ---- the list

async function showList() {
  $("#list-view").hidden = false;
  const params = new URLSearchParams(location.search);
  const form = $("#flow-search");
  form.namespace.value = params.get("namespace") || "";
  form.q.value = params.get("q") || "";
  await loadFlows();
  form.addEventListener("input", () => {
    const next = new URLSearchParams();
    if (form.namespace.value) next.set("namespace", form.namespace.value);
    if (form.q.value) next.set("q", form.q.value);
    history.replaceState(null, "", "/flows" + (next.toString() ? "?" + next : ""));
    clearTimeout(page.searchTimer);
    page.searchTimer = setTimeout(loadFlows, 250);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  $("#new-flow").addEventListener("click", () => location.assign("/flows/new"));
  whoAmI().then((me) => { $("#new-flow").hidden = !developsAnywhere(me); });
}

async function loadFlows() {
  const form = $("#flow-search");
  const params = new URLSearchParams({ size: "1000" });
  if (form.namespace.value.trim()) params.set("namespace", form.namespace.value.trim());
  try {
    const answer = await request("/api/v1/flows?" + params);
    const q = form.q.value.trim().toLowerCase();
    const shown = answer.results.filter((f) => !q || f.id.toLowerCase().includes(q));
    const body = $("#flows tbody");
    body.replaceChildren(
      ...shown.map((f) =>
        el(
          "tr",
          {},
          el("td", { class: "ns" }, f.namespace),
          el("td", {}, el("a", { href: flowPath(f.namespace, f.id) }, f.id)),
          el("td", { class: "num" }, f.revision),
          el("td", { class: "date" }, f.deployedAt ? formatDate(f.deployedAt) : ""),
        ),
      ),
    );
    $("#flow-count").textContent = String(answer.total);
    $("#no-flows").hidden = shown.length > 0;
    showError("");
  } catch (error) {
    showError(error.message);
  }
}

function flowPath(namespace, id) {
  return `/flows/${encodeURIComponent(namespace)}/${encodeURIComponent(id)}`;
}

function formatDate(iso) {
  const date = new Date(iso);
  return isNaN(date) ? iso : date.toLocaleString();
}

// ---- one flow

async function showFlow(namespace, id) {
  page.namespace = namespace;
  page.id = id;
  $("#flow-view").hidden = false;
  $("#flow-title").textContent = namespace ? `${namespace}.${id}` : "New flow";
  let source = NEW_FLOW;
  if (namespace) {
    try {
      const flow = await request(`/api/v1/flows/${encodeURIComponent(namespace)}/${encodeURIComponent(id)}`);
      source = flow.source;
      page.latest = flow.revision;
    } catch (error) {
      showError(error.message);
      return;
    }
  }
  page.saved = namespace ? source : "";
  makeEditor(source);
  fillRevisions();
  $("#save").addEventListener("click", save);
  $("#execute").addEventListener("click", openExecute);
  $("#execute").disabled = !namespace;
  limitToRoles(namespace);
  $("#revision").addEventListener("change", loadRevision);
  $("#diff-from").addEventListener("change", showDiff);
  $("#diff-to").addEventListener("change", showDiff);
  if (namespace) {
    loadTriggers();
    showDiff();
  }
}

// Save (deploy) needs the developer role on the flow's namespace, Execute the runner role: without it the
// button is disabled and says why (the server refuses such requests anyway). A new flow's namespace is not
// known before it is saved: Save stays enabled if the caller develops anywhere.
async function limitToRoles(namespace) {
  const me = await whoAmI();
  const develops = namespace ? allows(me, "developer", namespace) : developsAnywhere(me);
  if (!develops) {
    $("#save").disabled = true;
    $("#save").title = `the developer role on ${namespace || "some namespace"} is needed to deploy`;
  }
  if (namespace && !allows(me, "runner", namespace)) {
    $("#execute").disabled = true;
    $("#execute").title = `the runner role on ${namespace} is needed to execute`;
  }
}

function developsAnywhere(me) {
  return !me || (me.bindings || []).some((b) => ROLES.indexOf(b.role) >= ROLES.indexOf("developer"));
}

function makeEditor(source) {
  const parent = $("#editor");
  if (window.ConveyorEditor) {
    page.editor = window.ConveyorEditor.create(parent, { doc: source, validate, onChange: markDirty });
    parent.conveyorEditor = page.editor; // for scripts driving the page (the browser test pastes with it)
    return;
  }
  // Without the bundled editor (npm was not there at build time): a plain text area, checked on each pause.
  const area = el("textarea", { class: "plain-editor", "aria-label": "flow YAML", spellcheck: "false", rows: 24 });
  area.value = source;
  parent.append(area);
  let timer = null;
  area.addEventListener("input", () => {
    markDirty();
    clearTimeout(timer);
    timer = setTimeout(() => validate(area.value), 400);
  });
  page.editor = { getValue: () => area.value, setValue: (text) => (area.value = text), relint: () => validate(area.value) };
  validate(source);
}

function markDirty() {
  const dirty = page.editor && page.editor.getValue() !== page.saved;
  $("#status").textContent = dirty ? "unsaved changes" : page.latest ? `revision ${page.latest} deployed` : "";
}

// Asks the API; lists the problems under the editor and returns them for the editor's gutter.
async function validate(text) {
  let problems = [];
  try {
    const answer = await request("/api/v1/flows/validate", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: text,
    });
    problems = answer.valid ? (answer.warnings || []).map((w) => ({ ...w, severity: "warning" })) : answer.errors;
    page.inputs = answer.valid ? answer.inputs : page.inputs;
  } catch (error) {
    problems = [{ line: 1, column: 1, field: "", message: error.message }];
  }
  showProblems(problems);
  return problems.map((p) => ({ line: p.line || 1, column: p.column || 1, message: describe(p), severity: p.severity }));
}

function describe(problem) {
  return problem.field ? `${problem.field}: ${problem.message}` : problem.message;
}

function showProblems(problems) {
  $("#problems").replaceChildren(
    ...problems.map((p) => {
      const warning = p.severity === "warning";
      const at = el("b", {}, `${p.line || "?"}:${p.column || "?"}`);
      return el("li", { class: warning ? "problem warning" : "problem" }, at, " ", warning ? "warning: " : "", describe(p));
    }),
  );
}

async function save() {
  const source = page.editor.getValue();
  $("#save").disabled = true;
  try {
    const deployed = await request("/api/v1/flows", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: source,
    });
    showError("");
    showProblems([]);
    page.saved = source;
    const moved = deployed.namespace !== page.namespace || deployed.id !== page.id;
    if (moved) {
      location.assign(flowPath(deployed.namespace, deployed.id));
      return;
    }
    page.latest = deployed.revision;
    fillRevisions();
    showDiff();
    $("#status").textContent = `saved: revision ${deployed.revision} deployed`;
  } catch (error) {
    if (error.status === 422 && error.body) showProblems(error.body.errors);
    showError(error.message);
  } finally {
    $("#save").disabled = false;
  }
}

// ---- revisions and their diff

function fillRevisions() {
  const numbers = [];
  for (let r = page.latest; r >= 1; r--) numbers.push(r);
  const options = (selected) => numbers.map((r) => el("option", { value: r, selected: r === selected }, `revision ${r}`));
  $("#revision").replaceChildren(...options(page.latest));
  $("#diff-from").replaceChildren(...options(Math.max(1, page.latest - 1)));
  $("#diff-to").replaceChildren(...options(page.latest));
  $("#revision").disabled = numbers.length === 0;
}

const sources = new Map(); // revision -> source (a revision never changes)

async function sourceOf(revision) {
  if (!sources.has(revision)) {
    const path = `/api/v1/flows/${encodeURIComponent(page.namespace)}/${encodeURIComponent(page.id)}?revision=${revision}`;
    sources.set(revision, (await request(path)).source);
  }
  return sources.get(revision);
}

async function loadRevision() {
  const revision = Number($("#revision").value);
  try {
    page.editor.setValue(await sourceOf(revision));
    $("#status").textContent =
      revision === page.latest ? `revision ${revision} deployed` : `revision ${revision} loaded: Save deploys it as a new revision`;
  } catch (error) {
    showError(error.message);
  }
}

async function showDiff() {
  const from = Number($("#diff-from").value);
  const to = Number($("#diff-to").value);
  if (!from || !to) return;
  try {
    const [before, after] = await Promise.all([sourceOf(from), sourceOf(to)]);
    const lines = window.ConveyorDiff
      ? window.ConveyorDiff.lines(before, after)
      : after.split("\n").map((text) => ({ kind: "same", text }));
    const marks = { same: "  ", added: "+ ", removed: "- " };
    $("#diff").replaceChildren(...lines.map((l) => el("span", { class: "diff-" + l.kind }, marks[l.kind] + l.text + "\n")));
  } catch (error) {
    showError(error.message);
  }
}

// ---- triggers: each with its state and next date; Disable/Enable asks the scheduler (any trigger type)

// A trigger disabled by its flow or its definition is enabled again only by a redeploy: no button.
const TOGGLED_HERE = new Set([undefined, null, "request", "stopAfter"]);

async function loadTriggers() {
  try {
    const [rows, me] = await Promise.all([request("/api/v1/triggers?namespace=" + encodeURIComponent(page.namespace)), whoAmI()]);
    const mine = rows.filter((t) => t.namespace === page.namespace && t.flowId === page.id);
    const develops = allows(me, "developer", page.namespace);
    const body = $("#triggers tbody");
    body.replaceChildren(...mine.map((t) => triggerRow(t, develops)));
    if (!mine.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "This flow has no triggers.")));
    return mine;
  } catch (error) {
    showError(error.message);
    return [];
  }
}

// Disable/Enable needs the developer role on the namespace (the API answers 403 otherwise): disabled, and
// the tooltip says why, without it.
function triggerRow(t, develops) {
  const action = t.enabled ? "disable" : "enable";
  const button = TOGGLED_HERE.has(t.disabledBy)
    ? el("button", {
        type: "button",
        class: "button ghost small",
        "data-trigger": t.triggerId,
        "aria-label": `${action === "disable" ? "Disable" : "Enable"} trigger ${t.triggerId}`,
        disabled: !develops,
        title: develops ? null : `the developer role on ${page.namespace} is needed`,
        onclick: () => toggleTrigger(t.triggerId, action),
      }, action === "disable" ? "Disable" : "Enable")
    : "";
  return el(
    "tr",
    { "data-trigger": t.triggerId },
    el("td", {}, t.triggerId),
    el("td", { class: "small" }, t.type.split(".").pop()),
    el("td", { class: "enabled" }, t.enabled ? "yes" : `no${t.disabledBy ? " (" + t.disabledBy + ")" : ""}`),
    el("td", { class: "date" }, t.next ? formatDate(t.next) : "—"),
    el("td", {}, button),
  );
}

async function toggleTrigger(triggerId, action) {
  const path = ["", "api", "v1", "triggers", page.namespace, page.id, triggerId, action].map(encodeURIComponent).join("/");
  try {
    await request(path, { method: "POST" });
  } catch (error) {
    showError(error.message);
    return;
  }
  $("#status").textContent = `${action} of trigger ${triggerId} requested`;
  // the scheduler that owns the trigger applies it within a poll or so: show it once its state says so
  const wanted = action === "enable";
  for (let i = 0; i < 40; i++) {
    const rows = await loadTriggers();
    const row = rows.find((t) => t.triggerId === triggerId);
    if (!row || row.enabled === wanted) {
      $("#status").textContent = `trigger ${triggerId} ${wanted ? "enabled" : "disabled"}`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  $("#status").textContent = `${action} of trigger ${triggerId} requested; no scheduler has applied it yet`;
}

// ---- Execute: a form made from the flow's inputs

async function openExecute() {
  await validate(page.saved || page.editor.getValue());
  page.executeDialog.open(page.inputs || [], "This flow has no inputs.");
}

async function submitExecute(form, result) {
  const { body, headers } = inputsBody(form);
  try {
    const started = await request(
      `/api/v1/executions/${encodeURIComponent(page.namespace)}/${encodeURIComponent(page.id)}`,
      { method: "POST", headers, body },
    );
    const id = started.id || started.executionId;
    result.replaceChildren("Started ", el("a", { href: "/execution.html?id=" + encodeURIComponent(id), id: "started-execution" }, id));
  } catch (error) {
    result.textContent = error.message;
  }
}

// ---- start

async function start() {
  page.executeDialog = inputsDialog("execute", { title: "Execute", action: "Execute", submit: submitExecute, opener: () => $("#execute") });
  const where = route();
  if (where.view === "list") await showList();
  else if (where.view === "new") await showFlow("", "");
  else await showFlow(where.namespace, where.id);
}

start();
