// The daily chart: one stacked bar per day, a segment per state, as inline SVG.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children) if (c) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// The top of the y axis: four equal, whole-number steps of 1, 2 or 5 times a power of ten.
function niceMax(value) {
  const raw = Math.max(value, 1) / 4;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((f) => f * magnitude).find((s) => s >= raw);
  return Math.max(1, step) * 4;
}

// days: [{startDate, counts: {STATE: n}, duration: {count, min, avg, max, sum}}]
// onPick(day) is called when a bar is clicked.
function renderChart(container, legend, tooltip, days, onPick) {
  container.replaceChildren();
  legend.replaceChildren();
  const width = Math.max(container.clientWidth - 16, 320);
  const height = container.clientHeight || 210;
  const m = { top: 10, right: 8, bottom: 24, left: 44 };
  const plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
  const present = STATES.filter((s) => days.some((d) => (d.counts[s] || 0) > 0));
  const totals = days.map((d) => present.reduce((sum, s) => sum + (d.counts[s] || 0), 0));
  const top = niceMax(Math.max(0, ...totals));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "task runs per day by state" });

  const grid = svg("g", { class: "grid axis" });
  for (let i = 0; i <= 4; i++) {
    const y = m.top + plotH - (plotH * i) / 4;
    grid.append(svg("line", { x1: m.left, x2: width - m.right, y1: y, y2: y }));
    grid.append(svg("text", { x: m.left - 8, y: y + 4, "text-anchor": "end" }, formatNumber((top * i) / 4)));
  }
  root.append(grid);

  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(2, Math.min(38, slot * 0.68));
  const labelEvery = Math.ceil(days.length / Math.max(1, Math.floor(plotW / 64)));
  days.forEach((day, i) => {
    const x = m.left + slot * i + (slot - barW) / 2;
    const group = svg("g", { class: "day", "data-day": day.startDate });
    group.append(svg("rect", { class: "hover-band", x: m.left + slot * i, y: m.top, width: slot, height: plotH, fill: "transparent" }));
    let y = m.top + plotH;
    for (const state of present) {
      const n = day.counts[state] || 0;
      if (!n) continue;
      const h = (plotH * n) / top;
      y -= h;
      group.append(svg("rect", { class: "bar", x, y, width: barW, height: Math.max(h, 0.5), fill: stateColor(state), "data-state": state }));
    }
    if (totals[i] === 0) {
      group.append(svg("rect", { x, y: m.top + plotH - 1, width: barW, height: 1, fill: "#dfe2ee" }));
    }
    if (i % labelEvery === 0) {
      const [, mm, dd] = day.startDate.split("-");
      group.append(svg("text", { class: "axis", x: x + barW / 2, y: height - 6, "text-anchor": "middle" }, `${mm}-${dd}`));
    }
    group.addEventListener("mousemove", (event) => showTip(tooltip, container, event, day, present));
    group.addEventListener("mouseleave", () => { tooltip.hidden = true; });
    group.addEventListener("click", () => onPick(day));
    root.append(group);
  });
  root.append(svg("line", { x1: m.left, x2: width - m.right, y1: m.top + plotH, y2: m.top + plotH, stroke: "#cfd3e2" }));
  container.append(root);

  for (const state of present) {
    const swatch = el("i");
    swatch.style.background = stateColor(state);
    legend.append(el("span", {}, swatch, state.charAt(0) + state.slice(1).toLowerCase()));
  }
  if (!present.length) legend.append(el("span", {}, "No task runs in this window."));
}

function showTip(tooltip, container, event, day, present) {
  const rows = present.filter((s) => day.counts[s]).map((s) => {
    const swatch = el("i");
    swatch.style.background = stateColor(s);
    return el("div", { class: "t-row" }, el("span", {}, swatch, s), el("b", {}, formatNumber(day.counts[s])));
  });
  const d = day.duration || {};
  tooltip.replaceChildren(
    el("div", { class: "t-head" }, day.startDate),
    ...(rows.length ? rows : [el("div", {}, "no task runs")]),
    d.count ? el("div", { class: "t-row muted" }, el("span", {}, "avg duration"), el("span", {}, formatDuration(d.avg))) : null,
  );
  const card = container.parentElement.getBoundingClientRect();
  tooltip.hidden = false;
  const left = Math.min(event.clientX - card.left + 14, card.width - tooltip.offsetWidth - 8);
  tooltip.style.left = `${left}px`;
  tooltip.style.top = `${event.clientY - card.top + 14}px`;
}
