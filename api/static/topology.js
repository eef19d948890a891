// The Execution page's topology: the flow's tasks as nodes, their order as edges, laid out by dagre (the
// vendored graph.js) and drawn as SVG; each node coloured by the state of its task runs. Without the bundle
// (npm was missing at build time) the tasks are listed instead.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
// Task lists a flowable task holds (If's then/else, Switch's cases, a ForEach's tasks, errors, finally).
const BRANCH_KEYS = ["tasks", "then", "else", "errors", "finally", "afterExecution"];

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function isTask(value) {
  return value && typeof value === "object" && typeof value.id === "string" && typeof value.type === "string";
}

function branchesOf(task) {
  const out = [];
  for (const key of BRANCH_KEYS) if (Array.isArray(task[key]) && task[key].some(isTask)) out.push(task[key].filter(isTask));
  if (task.cases && typeof task.cases === "object") {
    for (const list of Object.values(task.cases)) if (Array.isArray(list)) out.push(list.filter(isTask));
  }
  if (Array.isArray(task.default)) out.push(task.default.filter(isTask));
  return out.filter((b) => b.length);
}

// The graph of a task list: nodes, edges, and the entry and exit node ids of the list (to chain it).
function graphOf(tasks, nodes, edges) {
  let exits = [];
  let entries = null;
  for (const task of tasks) {
    nodes.push({ id: task.id, type: task.type });
    for (const from of exits) edges.push({ from, to: task.id });
    if (entries === null) entries = [task.id];
    const branches = branchesOf(task);
    const parallel = /Parallel$/.test(task.type);
    let after = [task.id];
    if (branches.length) {
      after = [];
      for (const branch of branches) {
        if (parallel && branch === task.tasks) {
          for (const child of branch) {
            const sub = graphOf([child], nodes, edges);
            edges.push({ from: task.id, to: sub.entries[0] });
            after.push(...sub.exits);
          }
          continue;
        }
        const sub = graphOf(branch, nodes, edges);
        edges.push({ from: task.id, to: sub.entries[0] });
        after.push(...sub.exits);
      }
    }
    exits = after;
  }
  return { entries: entries || [], exits };
}

// The state a task's task runs show together: running first, then the worst ended one.
const STATE_RANK = ["RUNNING", "KILLING", "RETRYING", "PAUSED", "FAILED", "KILLED", "WARNING", "CREATED", "QUEUED", "RESTARTED", "SUCCESS", "RETRIED", "CANCELLED", "SKIPPED"];

function summarize(states) {
  let best = null;
  for (const s of states) if (best === null || STATE_RANK.indexOf(s) < STATE_RANK.indexOf(best)) best = s;
  return best;
}

function drawTopology(container, flow, countsByTask) {
  const nodes = [];
  const edges = [];
  graphOf(flow.tasks || [], nodes, edges);
  if (flow.errors && flow.errors.length) graphOf(flow.errors, nodes, edges);
  const stateOf = (id) => summarize(Object.keys(countsByTask.get(id) || {}));
  if (!window.ConveyorGraph) {
    container.replaceChildren(
      el("ul", { class: "topology-list" }, nodes.map((n) => el("li", {}, n.id, " ", stateOf(n.id) ? badge(stateOf(n.id)) : ""))),
    );
    return;
  }
  const W = 170;
  const H = 44;
  const laid = window.ConveyorGraph.layout(
    nodes.map((n) => ({ id: n.id, width: W, height: H })),
    edges,
  );
  const root = svg("svg", { viewBox: `0 0 ${laid.width} ${laid.height}`, width: laid.width, height: laid.height, class: "topology-svg" });
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 8, markerHeight: 8, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L8,4 L0,8 z", class: "topology-arrow" }));
  root.append(svg("defs", {}, marker));
  for (const e of laid.edges) {
    const d = e.points.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
    root.append(svg("path", { d, class: "topology-edge", "marker-end": "url(#arrow)" }));
  }
  for (const n of nodes) {
    const at = laid.nodes[n.id];
    if (!at) continue;
    const state = stateOf(n.id);
    const counts = countsByTask.get(n.id) || {};
    const runs = Object.values(counts).reduce((a, b) => a + b, 0);
    const colour = state ? stateColor(state) : "#cbd0df";
    const g = svg("g", { class: "topology-node", "data-task": n.id, "data-state": state || "" , transform: `translate(${at.x - W / 2},${at.y - H / 2})` });
    g.append(svg("title", {}, `${n.id} (${n.type.split(".").pop()})${state ? ": " + state : ""}${runs > 1 ? `, ${runs} task runs` : ""}`));
    g.append(svg("rect", { width: W, height: H, rx: 8, fill: "#fff", stroke: colour, "stroke-width": 2 }));
    g.append(svg("rect", { width: 6, height: H, rx: 3, fill: colour }));
    g.append(svg("text", { x: 14, y: 18, class: "topology-id" }, n.id.length > 20 ? n.id.slice(0, 19) + "…" : n.id));
    g.append(svg("text", { x: 14, y: 34, class: "topology-type" }, `${n.type.split(".").pop()}${state ? " · " + state : ""}${runs > 1 ? " ×" + runs : ""}`));
    root.append(g);
  }
  container.replaceChildren(root);
}
