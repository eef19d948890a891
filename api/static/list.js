// What the list pages (Task Runs, Executions, Logs) share: the filter bar, the view's URL and search, state
// chips, sortable column heads, a pager that pages on with the API's cursor, automatic refresh and a debounce.
// Needs format.js (el, STATES, stateColor) and http.js (request).
"use strict";

// The filter fields the list pages have in common, and the window of dates (`what` after / before).
const FILTER_FIELDS = {
  namespace: { name: "namespace", label: "Namespace", placeholder: "company.team" },
  flowId: { name: "flowId", label: "Flow", placeholder: "flow id" },
  executionId: { name: "executionId", label: "Execution", placeholder: "execution id" },
  taskId: { name: "taskId", label: "Task", placeholder: "task id" },
};
const searchField = (label, placeholder) => ({ name: "q", label, type: "search", placeholder, grow: true });
const dateFields = (what) => [
  { name: "startDate", label: `${what} after`, type: "date" },
  { name: "endDate", label: `${what} before`, type: "date" },
];

// The filter bar of a list page, built in its `<form id="filters">` from `rows`: a list of rows, each a list of
// fields `{name, label, placeholder, type}` (type "search", "date" for a datetime-local, "select" with
// `options: [[value, text], ...]`, else a text input; `grow` widens it), or "states" (the state chips,
// `#state-chips`) or "clear" (the `#clear` button).
function filterBar(form, rows) {
  const field = (f) => {
    if (f === "states") {
      return el("div", { class: "field states" }, el("span", { id: "states-label" }, "State"),
        el("div", { id: "state-chips", class: "chips", role: "group", "aria-labelledby": "states-label" }));
    }
    if (f === "clear") {
      return el("div", { class: "field actions" }, el("span", {}, "\u00a0"),
        el("button", { type: "button", id: "clear", class: "button ghost" }, "Clear filters"));
    }
    let control;
    if (f.type === "select") control = el("select", { name: f.name }, f.options.map(([value, text]) => el("option", { value }, text)));
    else if (f.type === "date") control = el("input", { name: f.name, type: "datetime-local", step: "1" });
    else control = el("input", { name: f.name, type: f.type === "search" ? "search" : null, placeholder: f.placeholder });
    const kind = f.grow ? "field grow" : f.type === "date" ? "field date-field" : "field";
    return el("label", { class: kind }, el("span", {}, f.label), control);
  };
  form.replaceChildren(...rows.map((row) => el("div", { class: "filter-row" }, row.map(field))));
}

// What a list page does with its view: `writeUrl()` (the filters' `params()`, then the paging), `fill()` the
// form from the view (text fields `text`, the dates, the rows, the state chips when there are some, then
// `also()`), and `changed()`: back to the first page, the URL written, `load()`.
function listControls(view, form, { paging, text, params, load, also }) {
  const controls = {
    writeUrl: () => writePaging(view, params(), paging),
    fill() {
      fillFilterForm(form, view, text);
      const chips = document.getElementById("state-chips");
      if (chips) pressChips(chips, view.filters.state);
      if (also) also();
    },
    changed() {
      firstPage(view);
      controls.writeUrl();
      load();
    },
  };
  return controls;
}

// One page of a search (`path` with the page's `params`, its sort and size) into `view` (results, next, total,
// totalExact); false when a later search was started meanwhile (its answer is the one to show).
async function searchPage(view, path, params) {
  const ticket = (view.ticket = (view.ticket || 0) + 1);
  params.set("size", view.size);
  params.set("sort", view.sort);
  const data = await request(`${path}?${params}`);
  if (ticket !== view.ticket) return false;
  view.results = data.results;
  view.next = data.next;
  view.total = data.total;
  view.totalExact = data.totalExact;
  return true;
}

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// The filter form's fields into `view.filters`: text fields (`textNames`) after a pause in typing, the
// startDate / endDate fields (datetime-local) as ISO when changed; then `changed()`. The form never submits.
function wireFilterForm(form, view, textNames, changed) {
  const onText = debounce(() => {
    for (const name of textNames) view.filters[name] = form.elements[name].value.trim();
    changed();
  }, 350);
  for (const name of textNames) form.elements[name].addEventListener("input", onText);
  for (const name of ["startDate", "endDate"]) {
    form.elements[name].addEventListener("change", () => {
      view.filters[name] = localToIso(form.elements[name].value);
      changed();
    });
  }
  form.addEventListener("submit", (event) => event.preventDefault());
}

// And back: the form shows `view.filters` (text fields, dates in local time) and the rows per page.
function fillFilterForm(form, view, textNames) {
  for (const name of textNames) form.elements[name].value = view.filters[name];
  form.elements.startDate.value = isoToLocal(view.filters.startDate);
  form.elements.endDate.value = isoToLocal(view.filters.endDate);
  document.getElementById("size").value = String(view.size);
}

// A change of filters, sort or rows shows the first page again.
function firstPage(view) {
  view.page = 1;
  view.cursors = {};
}

// One toggle button per state in `container`; `onChange(states)` with the pressed ones, in STATES order.
function stateChips(container, onChange) {
  for (const state of STATES) {
    const chip = el("button", { type: "button", class: "chip", "data-state": state, "aria-pressed": "false" }, state);
    chip.style.setProperty("--c", stateColor(state));
    chip.addEventListener("click", () => {
      chip.setAttribute("aria-pressed", String(chip.getAttribute("aria-pressed") !== "true"));
      onChange(STATES.filter((s) => container.querySelector(`[data-state="${s}"]`).getAttribute("aria-pressed") === "true"));
    });
    container.append(chip);
  }
}

function pressChips(container, states) {
  for (const chip of container.querySelectorAll(".chip")) {
    chip.setAttribute("aria-pressed", String(states.includes(chip.dataset.state)));
  }
}

// The `th[data-sort]` of `table` sort on a click or, their text being a button, Enter and Space.
// `view.sort` is "field:asc|desc"; a first click sorts text columns (`textual`) ascending, others descending.
function sortableHeads(table, view, textual, onChange) {
  for (const th of table.querySelectorAll("th[data-sort]")) {
    if (!th.querySelector("button")) {
      th.replaceChildren(el("button", { type: "button", class: "sort" }, th.textContent));
    }
    th.addEventListener("click", () => {
      const [field, order] = view.sort.split(":");
      const next = field === th.dataset.sort ? (order === "asc" ? "desc" : "asc") : (textual.includes(th.dataset.sort) ? "asc" : "desc");
      view.sort = `${th.dataset.sort}:${next}`;
      onChange();
    });
  }
}

function markSorted(table, sort) {
  const [field, order] = sort.split(":");
  for (const th of table.querySelectorAll("th[data-sort]")) {
    const sorted = th.dataset.sort === field;
    th.classList.toggle("sorted", sorted);
    th.classList.toggle("asc", sorted && order === "asc");
    th.setAttribute("aria-sort", sorted ? (order === "asc" ? "ascending" : "descending") : "none");
  }
}

// The sort, rows and page number a URL gives (`defaults`: {sort, size}), and the view written back into the URL
// (the filters' `params`, then sort, size and page when not the defaults; a page reached by cursor is not kept).
function readPaging(view, params, defaults) {
  view.sort = params.get("sort") || defaults.sort;
  view.size = Number(params.get("size")) || defaults.size;
  view.page = Math.max(1, Number(params.get("page")) || 1);
}

function writePaging(view, params, defaults) {
  if (view.sort !== defaults.sort) params.set("sort", view.sort);
  if (view.size !== defaults.size) params.set("size", view.size);
  if (view.page > 1 && !view.cursors[view.page]) params.set("page", view.page);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

// Pages of a search: `view.page` (1-based), `view.cursors[page]` the `after` that reaches it, `view.next` the
// cursor the last answer gave. Pages not reached by cursor (a page number in the URL) ask `page=N`.
function pageParams(view, params, numbered = true) {
  const cursor = view.cursors[view.page];
  if (cursor) params.set("after", cursor);
  else if (numbered && view.page > 1) params.set("page", view.page);
  else if (!numbered) view.page = 1;
  return params;
}

function renderPager(view, shown) {
  const first = (view.page - 1) * view.size + 1;
  const last = first + shown - 1;
  const total = view.totalExact === false ? `${formatNumber(view.total)}+` : formatNumber(view.total);
  document.getElementById("range").textContent = shown ? `${formatNumber(first)}–${formatNumber(last)} of ${total}` : "";
  document.getElementById("page").textContent = `Page ${view.page}`;
  document.getElementById("prev").disabled = document.getElementById("first").disabled = view.page <= 1;
  document.getElementById("next").disabled = !view.next;
}

// The pager (in `#pager`) and its buttons: `go()` after the page changed (write the URL, load).
function wirePager(view, go) {
  const button = (id, text) => el("button", { type: "button", id, class: "button ghost" }, text);
  document.getElementById("pager").replaceChildren(
    el("span", { id: "range", class: "muted" }),
    el("div", { class: "pager-buttons" },
      button("first", "« First"), button("prev", "‹ Previous"), el("span", { id: "page", class: "page-number" }), button("next", "Next ›")));
  document.getElementById("next").addEventListener("click", () => {
    if (!view.next) return;
    view.cursors[view.page + 1] = view.next;
    view.page += 1;
    go();
  });
  document.getElementById("prev").addEventListener("click", () => { view.page = Math.max(1, view.page - 1); go(); });
  document.getElementById("first").addEventListener("click", () => { view.page = 1; go(); });
}

// Reloads every `select.value` seconds while the tab is visible (0: never).
function autoRefresh(select, seconds, load) {
  let timer = null;
  const schedule = () => {
    clearTimeout(timer);
    const every = Number(select.value) || 0;
    if (every > 0) timer = setTimeout(async () => { if (!document.hidden) await load(); schedule(); }, every * 1000);
  };
  select.value = String(seconds || 0);
  if (!select.value) select.value = "0";
  select.addEventListener("change", schedule);
  schedule();
  return schedule;
}

// "env:prod team:a" (spaces or commas) -> ["env:prod", "team:a"]: one `labels` parameter of a search each.
function labelPairs(text) {
  return (text || "").split(/[\s,]+/).map((p) => p.trim()).filter(Boolean);
}
