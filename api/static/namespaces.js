// The Namespaces page: every namespace a deployed flow lives in (and their parents), from GET /api/v1/flows;
// one namespace (`?namespace=NS`): its flows (and those under it), links to its executions, logs and task
// runs, and its KV store (GET/PUT/DELETE /api/v1/namespaces/NS/kv[/KEY]): list, read a value, set a key and
// delete one (the runner role; without it the form and the delete buttons are not shown).
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { flows: [], namespace: new URLSearchParams(location.search).get("namespace") || "", me: null };

function showError(message) {
  $("#error").textContent = message || "";
  $("#error").hidden = !message;
}

// Every flow the caller may read, the API's pages of 1000 followed to the end.
async function allFlows() {
  const flows = [];
  for (let page = 1; ; page++) {
    const answer = await request(`/api/v1/flows?size=1000&page=${page}`);
    flows.push(...answer.results);
    if (flows.length >= answer.total || !answer.results.length) return flows;
  }
}

// "a.b.c" -> ["a", "a.b", "a.b.c"]: a namespace and its parents, each shown in the tree.
function withParents(namespace) {
  const parts = namespace.split(".");
  return parts.map((_, i) => parts.slice(0, i + 1).join("."));
}

function renderTree() {
  const filter = $("#ns-filter").value.trim().toLowerCase();
  const counts = new Map();
  for (const flow of state.flows) {
    for (const ns of withParents(flow.namespace)) counts.set(ns, (counts.get(ns) || 0) + 1);
  }
  const names = [...counts.keys()].sort().filter((ns) => !filter || ns.includes(filter));
  $("#ns-count").textContent = String(counts.size);
  $("#no-namespaces").hidden = counts.size > 0;
  $("#namespaces").replaceChildren(...names.map((ns) => {
    const depth = ns.split(".").length - 1;
    const link = el("a", { href: "?namespace=" + encodeURIComponent(ns), "aria-current": ns === state.namespace ? "page" : null },
      ns.split(".").pop(), el("span", { class: "count" }, counts.get(ns)));
    link.title = ns;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      history.replaceState(null, "", "?namespace=" + encodeURIComponent(ns));
      select(ns);
    });
    const item = el("li", { class: "depth-" + Math.min(depth, 6) }, link);
    item.style.paddingLeft = `${depth * 14}px`;
    return item;
  }));
}

async function select(namespace) {
  state.namespace = namespace;
  renderTree();
  $("#ns-view").hidden = false;
  $("#ns-title").textContent = namespace;
  const q = encodeURIComponent(namespace);
  $("#ns-links").replaceChildren(
    el("a", { href: `/executions?namespace=${q}` }, "Executions"),
    el("a", { href: `/logs?namespace=${q}` }, "Logs"),
    el("a", { href: `/?namespace=${q}` }, "Task runs"),
    el("a", { href: `/flows?namespace=${q}` }, "Flows"),
  );
  const mine = state.flows.filter((f) => covers(namespace, f.namespace));
  $("#flows-count").textContent = String(mine.length);
  $("#ns-flows tbody").replaceChildren(...mine.map((f) => el("tr", {},
    el("td", {}, el("a", { href: `/flows/${encodeURIComponent(f.namespace)}/${encodeURIComponent(f.id)}` }, f.id)),
    el("td", { class: "ns" }, f.namespace),
    el("td", { class: "num" }, f.revision))));
  const runner = allows(state.me, "runner", namespace);
  $("#kv-form").hidden = !runner;
  $("#kv-value").hidden = true;
  $("#kv-result").textContent = runner ? "" : "Setting or deleting a key needs the runner role on this namespace.";
  await loadKv();
}

async function loadKv() {
  const namespace = state.namespace;
  const runner = allows(state.me, "runner", namespace);
  try {
    const entries = await request(`/api/v1/namespaces/${encodeURIComponent(namespace)}/kv`);
    if (namespace !== state.namespace) return;
    $("#kv-count").textContent = String(entries.length);
    const rows = entries.map((entry) => {
      const show = el("button", { type: "button", class: "button ghost small-button" }, entry.key);
      show.setAttribute("aria-label", `show the value of ${entry.key}`);
      show.addEventListener("click", () => showValue(entry.key));
      const remove = runner ? el("button", { type: "button", class: "button danger small-button", "aria-label": `delete ${entry.key}` }, "Delete") : "";
      if (remove) remove.addEventListener("click", () => removeKey(entry.key));
      return el("tr", { "data-key": entry.key },
        el("td", {}, show), el("td", { class: "small" }, entry.type), el("td", {}, entry.description || ""),
        el("td", { class: "date" }, formatDate(entry.updated)), el("td", { class: "date" }, formatDate(entry.expiresAt)),
        el("td", {}, remove));
    });
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No key in this namespace.")));
    $("#kv tbody").replaceChildren(...rows);
    showError("");
  } catch (error) {
    $("#kv tbody").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, `KV store unavailable: ${error.message}`)));
  }
}

async function showValue(key) {
  try {
    const entry = await request(`/api/v1/namespaces/${encodeURIComponent(state.namespace)}/kv/${encodeURIComponent(key)}`);
    $("#kv-value").textContent = `${key} = ${JSON.stringify(entry.value, null, 2)}`;
    $("#kv-value").hidden = false;
  } catch (error) {
    showError(error.message);
  }
}

async function removeKey(key) {
  if (!window.confirm(`Delete the key ${key} of ${state.namespace}?`)) return;
  try {
    await request(`/api/v1/namespaces/${encodeURIComponent(state.namespace)}/kv/${encodeURIComponent(key)}`, { method: "DELETE" });
    $("#kv-result").textContent = `Deleted ${key}.`;
    $("#kv-value").hidden = true;
    await loadKv();
  } catch (error) {
    showError(error.message);
  }
}

// The form's value as the type wants it: a NUMBER a JSON number, a BOOLEAN true/false, JSON parsed.
function typedValue(type, text) {
  if (type === "NUMBER") return Number(text);
  if (type === "BOOLEAN") return text.trim().toLowerCase() === "true";
  if (type === "JSON") return JSON.parse(text);
  return text;
}

async function setKey(event) {
  event.preventDefault();
  const form = $("#kv-form");
  const key = form.elements.key.value.trim();
  const type = form.elements.type.value;
  let body;
  try {
    body = { type, value: typedValue(type, form.elements.value.value) };
  } catch (error) {
    $("#kv-result").textContent = `value: ${error.message}`;
    return;
  }
  if (form.elements.ttl.value.trim()) body.ttl = form.elements.ttl.value.trim();
  if (form.elements.description.value.trim()) body.description = form.elements.description.value.trim();
  try {
    await request(`/api/v1/namespaces/${encodeURIComponent(state.namespace)}/kv/${encodeURIComponent(key)}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    $("#kv-result").textContent = `Set ${key}.`;
    form.reset();
    await loadKv();
  } catch (error) {
    $("#kv-result").textContent = error.message;
  }
}

async function start() {
  $("#ns-filter").addEventListener("input", renderTree);
  $("#kv-form").addEventListener("submit", setKey);
  state.me = await whoAmI();
  try {
    state.flows = await allFlows();
  } catch (error) {
    showError(error.message);
  }
  renderTree();
  if (state.namespace) await select(state.namespace);
}

start();
