// The Executions page: filters (text, namespace, flow, labels, start window, states), a sortable and paged
// table of GET /api/v1/executions/search, and Kill / Restart of the selected executions (one control request
// each: POST /api/v1/executions/{id}/kill|restart) and Unqueue (one POST /api/v1/executions/unqueue/by-ids).
// Its state lives in the URL. Each row links to the
// Execution page and to the execution's task runs.
"use strict";

const TEXT_FILTERS = ["q", "namespace", "flowId", "labels", "triggerExecutionId"];
const PLAIN_FILTERS = ["q", "namespace", "flowId", "triggerExecutionId"]; // one URL and API parameter each
const DEFAULT_SORT = "state.startDate:desc";
const PAGING = { sort: DEFAULT_SORT, size: 25 };
const KILLABLE = STATES.filter((s) => !TERMINAL.includes(s)); // a kill of an ended execution is refused (409)
const RESTARTABLE = ["FAILED", "KILLED"];
const UNQUEUEABLE = ["QUEUED"]; // started now, past the flow's concurrency limit

const $ = (selector) => document.querySelector(selector);
const form = $("#filters");
filterBar(form, [
  [
    searchField("Search", "id, namespace, flow…"), FILTER_FIELDS.namespace, FILTER_FIELDS.flowId,
    { name: "labels", label: "Labels", placeholder: "env:prod team:a" },
    { name: "triggerExecutionId", label: "Parent execution", placeholder: "its children only" },
    ...dateFields("Started"),
  ],
  ["states", "clear"],
]);

const emptyFilters = () => ({ q: "", namespace: "", flowId: "", labels: "", triggerExecutionId: "", state: [], startDate: "", endDate: "" });

const view = {
  filters: emptyFilters(),
  sort: DEFAULT_SORT,
  size: 25,
  page: 1,
  cursors: {},
  results: [],
  selected: new Map(), // id -> execution (kept across pages and reloads)
  me: null,
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
}

const controls = listControls(view, form, { paging: PAGING, text: TEXT_FILTERS, params: filterParams, load: () => load() });
const [writeUrl, fillForm, filtersChanged] = [controls.writeUrl, controls.fill, controls.changed];

// ---- loading

async function load() {
  try {
    if (!(await searchPage(view, "/api/v1/executions/search", pageParams(view, filterParams())))) return;
    for (const execution of view.results) {
      if (view.selected.has(execution.id)) view.selected.set(execution.id, execution);
    }
    $("#error").hidden = true;
    render();
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    showError(error.message);
  }
}

function showError(message) {
  $("#error").textContent = message;
  $("#error").hidden = false;
}

// ---- the table

function render() {
  $("#executions tbody").replaceChildren(...view.results.map(row));
  $("#empty").hidden = view.results.length > 0;
  $("#total").textContent = view.totalExact === false ? `${formatNumber(view.total)}+` : formatNumber(view.total);
  renderPager(view, view.results.length);
  markSorted($("#executions"), view.sort);
  renderSelection();
}

function row(execution) {
  const st = execution.state || {};
  const check = el("input", {
    type: "checkbox",
    class: "select",
    "aria-label": `select execution ${execution.id}`,
    checked: view.selected.has(execution.id),
  });
  check.addEventListener("change", () => {
    if (check.checked) view.selected.set(execution.id, execution);
    else view.selected.delete(execution.id);
    renderSelection();
  });
  const labels = (execution.labels || []).map((l) => el("span", { class: "label-chip" }, `${l.key}:${l.value}`));
  const trigger = execution.trigger ? execution.trigger.id : "";
  return el(
    "tr",
    { "data-id": execution.id, "data-state": st.current, class: view.selected.has(execution.id) ? "selected" : null },
    el("td", { class: "check" }, check),
    el("td", { class: "id" }, el("a", { href: executionHref(execution.id), title: execution.id }, shortId(execution.id))),
    el("td", { class: "ns" }, execution.namespace),
    el("td", {}, el("a", { href: `/flows/${encodeURIComponent(execution.namespace)}/${encodeURIComponent(execution.flowId)}` }, execution.flowId)),
    el("td", { class: "labels" }, labels),
    el("td", {}, badge(st.current)),
    el("td", { class: "date" }, formatDate(st.startDate)),
    el("td", { class: "date" }, formatDate(st.endDate)),
    el("td", { class: "num date" }, formatDuration(taskRunDuration(execution))),
    el("td", { class: "small" }, trigger),
    el("td", { class: "small" }, el("a", { href: taskRunsHref(execution.id), "aria-label": `task runs of ${execution.id}` }, "task runs")),
  );
}

// ---- selection and the bulk actions

// The selected executions an action applies to: in a state that allows it, in a namespace the caller runs.
function eligible(states) {
  return [...view.selected.values()].filter((e) => states.includes(e.state && e.state.current) && allows(view.me, "runner", e.namespace));
}

function renderSelection() {
  const count = view.selected.size;
  $("#selected-count").textContent = count ? `${count} selected` : "none selected";
  const killable = eligible(KILLABLE).length;
  const restartable = eligible(RESTARTABLE).length;
  const runner = [...view.selected.values()].every((e) => allows(view.me, "runner", e.namespace));
  const why = runner ? "" : "the runner role on their namespace is needed";
  $("#kill").disabled = killable === 0;
  $("#kill").textContent = killable ? `Kill ${killable}` : "Kill";
  $("#kill").title = killable ? "" : why || "no selected execution is running";
  $("#restart").disabled = restartable === 0;
  $("#restart").textContent = restartable ? `Restart ${restartable}` : "Restart";
  $("#restart").title = restartable ? "" : why || "no selected execution is FAILED or KILLED";
  const unqueueable = eligible(UNQUEUEABLE).length;
  $("#unqueue").disabled = unqueueable === 0;
  $("#unqueue").textContent = unqueueable ? `Unqueue ${unqueueable}` : "Unqueue";
  $("#unqueue").title = unqueueable ? "start them now, past their flow's concurrency limit" : why || "no selected execution is QUEUED";
  $("#unselect").disabled = count === 0;
  const shown = view.results.length;
  const checked = view.results.filter((e) => view.selected.has(e.id)).length;
  $("#select-all").checked = shown > 0 && checked === shown;
  $("#select-all").indeterminate = checked > 0 && checked < shown;
  for (const tr of document.querySelectorAll("#executions tbody tr")) tr.classList.toggle("selected", view.selected.has(tr.dataset.id));
}

// One request per execution, four at a time; the answer of each is reported (202, or why not).
async function bulk(action, states) {
  const targets = eligible(states);
  const skipped = view.selected.size - targets.length;
  const verb = action === "kill" ? "Kill" : "Restart";
  if (!targets.length || !window.confirm(`${verb} ${targets.length} execution${targets.length > 1 ? "s" : ""}?`)) return;
  $("#bulk-result").textContent = `${verb}: sending ${targets.length}…`;
  const refused = [];
  let done = 0;
  const queue = [...targets];
  const workers = Array.from({ length: Math.min(4, queue.length) }, async () => {
    while (queue.length) {
      const execution = queue.shift();
      try {
        await request(`/api/v1/executions/${encodeURIComponent(execution.id)}/${action}`, { method: "POST" });
        done++;
        view.selected.delete(execution.id);
      } catch (error) {
        refused.push(`${shortId(execution.id)}: ${error.message}`);
      }
    }
  });
  await Promise.all(workers);
  const parts = [`${verb} requested for ${done}`];
  if (skipped) parts.push(`${skipped} skipped (state or role)`);
  if (refused.length) parts.push(`${refused.length} refused — ${refused.join("; ")}`);
  $("#bulk-result").textContent = parts.join(", ") + ".";
  $("#bulk-result").classList.toggle("error-text", refused.length > 0);
  await load();
  setTimeout(load, 1500); // the indexer catches up with the new states
}

// Unqueue: one request for all of them (POST /api/v1/executions/unqueue/by-ids, all or nothing).
async function bulkUnqueue() {
  const targets = eligible(UNQUEUEABLE);
  const skipped = view.selected.size - targets.length;
  if (!targets.length || !window.confirm(`Unqueue ${targets.length} execution${targets.length > 1 ? "s" : ""}? They start now, past their flow's concurrency limit.`)) return;
  $("#bulk-result").textContent = `Unqueue: sending ${targets.length}…`;
  let text;
  try {
    const answer = await request("/api/v1/executions/unqueue/by-ids", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(targets.map((e) => e.id)),
    });
    for (const execution of targets) view.selected.delete(execution.id);
    text = `Unqueue requested for ${answer.count}` + (skipped ? `, ${skipped} skipped (state or role)` : "") + ".";
    $("#bulk-result").classList.remove("error-text");
  } catch (error) {
    text = `Unqueue refused — ${error.message}`;
    $("#bulk-result").classList.add("error-text");
  }
  $("#bulk-result").textContent = text;
  await load();
  setTimeout(load, 1500); // the indexer catches up with the new states
}

// ---- wiring

function wire() {
  stateChips($("#state-chips"), (states) => { view.filters.state = states; filtersChanged(); });
  wireFilterForm(form, view, TEXT_FILTERS, filtersChanged);
  $("#clear").addEventListener("click", () => { view.filters = emptyFilters(); fillForm(); filtersChanged(); });
  sortableHeads($("#executions"), view, ["id", "namespace", "flowId", "state.current"], filtersChanged);
  $("#size").addEventListener("change", () => { view.size = Number($("#size").value); filtersChanged(); });
  wirePager(view, () => { writeUrl(); load(); });
  $("#select-all").addEventListener("change", () => {
    for (const execution of view.results) {
      if ($("#select-all").checked) view.selected.set(execution.id, execution);
      else view.selected.delete(execution.id);
    }
    render();
  });
  $("#unselect").addEventListener("click", () => { view.selected.clear(); render(); });
  $("#kill").addEventListener("click", () => bulk("kill", KILLABLE));
  $("#restart").addEventListener("click", () => bulk("restart", RESTARTABLE));
  $("#unqueue").addEventListener("click", bulkUnqueue);
  autoRefresh($("#refresh"), Number(new URLSearchParams(location.search).get("refresh") || document.body.dataset.refresh) || 0, load);
}

readUrl();
wire();
fillForm();
whoAmI().then((me) => { view.me = me; renderSelection(); });
load();
