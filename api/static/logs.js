// The Logs page: the log lines of every execution (GET /api/v1/logs/search) by message words, lowest level,
// namespace, flow, execution, task and time; newest first (a click on Time: oldest first), paged on with the
// API's cursor. Its state lives in the URL; each line links to its execution.
"use strict";

const TEXT_FILTERS = ["q", "namespace", "flowId", "executionId", "taskId"];
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
const DEFAULT_SORT = "timestamp:desc";
const PAGING = { sort: DEFAULT_SORT, size: 100 };

const $ = (selector) => document.querySelector(selector);
const form = $("#filters");
filterBar(form, [
  [
    searchField("Message", "words of the message"),
    { name: "minLevel", label: "Level", type: "select", options: [["", "any"], ...LEVELS.map((l) => [l, l === "ERROR" ? l : `${l} and up`])] },
    FILTER_FIELDS.namespace, FILTER_FIELDS.flowId, FILTER_FIELDS.executionId, FILTER_FIELDS.taskId,
  ],
  [...dateFields("Logged"), "clear"],
]);

const emptyFilters = () => ({ q: "", namespace: "", flowId: "", executionId: "", taskId: "", minLevel: "", startDate: "", endDate: "" });

const view = { filters: emptyFilters(), sort: DEFAULT_SORT, size: 100, page: 1, cursors: {}, results: [] };

function filterParams() {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(view.filters)) if (value) params.set(name, value);
  return params;
}

function readUrl() {
  const params = new URLSearchParams(location.search);
  for (const name of Object.keys(view.filters)) view.filters[name] = params.get(name) || "";
  if (!LEVELS.includes(view.filters.minLevel)) view.filters.minLevel = "";
  readPaging(view, params, PAGING);
  if (view.sort !== "timestamp:asc") view.sort = DEFAULT_SORT;
  view.page = 1; // pages on by cursor only
}

const controls = listControls(view, form, {
  paging: PAGING, text: TEXT_FILTERS, params: filterParams, load: () => load(),
  also: () => { form.elements.minLevel.value = view.filters.minLevel; },
});
const [writeUrl, fillForm, filtersChanged] = [controls.writeUrl, controls.fill, controls.changed];

async function load() {
  try {
    if (!(await searchPage(view, "/api/v1/logs/search", pageParams(view, filterParams(), false)))) return;
    $("#error").hidden = true;
    render();
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    $("#error").textContent = error.message;
    $("#error").hidden = false;
  }
}

function render() {
  $("#lines tbody").replaceChildren(...view.results.map(line));
  $("#empty").hidden = view.results.length > 0;
  $("#total").textContent = view.totalExact === false ? `${formatNumber(view.total)}+` : formatNumber(view.total);
  renderPager(view, view.results.length);
  markSorted($("#lines"), view.sort);
}

// A filter link: a click narrows the search to this value.
function narrow(name, value, text) {
  const link = el("a", { href: "#", title: `only ${name} ${value}` }, text || value);
  link.addEventListener("click", (event) => {
    event.preventDefault();
    view.filters[name] = value;
    fillForm();
    filtersChanged();
  });
  return link;
}

function line(entry) {
  return el(
    "tr",
    { class: `log-row ${entry.level}` },
    el("td", { class: "date" }, formatDate(entry.timestamp)),
    el("td", { class: "lvl" }, entry.level),
    el("td", {}, el("span", { class: "ns" }, entry.namespace + "."), narrow("flowId", entry.flowId)),
    el("td", { class: "id" }, el("a", { href: executionHref(entry.executionId), title: entry.executionId }, shortId(entry.executionId))),
    el("td", { class: "task" }, entry.taskId ? narrow("taskId", entry.taskId) : ""),
    el("td", { class: "msg" }, entry.message),
  );
}

function wire() {
  wireFilterForm(form, view, TEXT_FILTERS, filtersChanged);
  form.elements.minLevel.addEventListener("change", () => { view.filters.minLevel = form.elements.minLevel.value; filtersChanged(); });
  $("#clear").addEventListener("click", () => { view.filters = emptyFilters(); fillForm(); filtersChanged(); });
  sortableHeads($("#lines"), view, [], filtersChanged);
  $("#size").addEventListener("change", () => { view.size = Number($("#size").value); filtersChanged(); });
  wirePager(view, load);
  autoRefresh($("#refresh"), Number(document.body.dataset.refresh) || 0, load);
}

readUrl();
wire();
fillForm();
load();
