// Formatting helpers shared by the chart and the table (plain browser JS, no build step).
"use strict";

const STATES = [
  "SUCCESS", "FAILED", "WARNING", "RUNNING", "CREATED", "QUEUED", "RETRYING", "RETRIED",
  "KILLING", "KILLED", "PAUSED", "RESTARTED", "CANCELLED", "SKIPPED",
];

function stateColor(state) {
  return getComputedStyle(document.documentElement).getPropertyValue("--" + state).trim() || "#9aa1b5";
}

// el("td", {class: "id", title: x}, "text", childNode, ...)
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(state) {
  const node = el("span", { class: "badge " + state }, state || "?");
  node.style.setProperty("--c", stateColor(state));
  return node;
}

function pad(n, width = 2) { return String(n).padStart(width, "0"); }

// 2024-05-01 12:03:04.123 in the browser's time zone
function formatDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function formatDuration(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60), rest = Math.round(s % 60);
  if (m < 60) return `${m}m ${rest}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

function taskRunDuration(run) {
  const st = run.state || {};
  const running = st.current && !TERMINAL.includes(st.current);
  if (st.durationMs !== undefined && !(running && st.startDate)) return st.durationMs; // indexed: as of its last change
  if (st.startDate) return (st.endDate ? new Date(st.endDate) : new Date()) - new Date(st.startDate);
  return null;
}

const TERMINAL = ["SUCCESS", "WARNING", "FAILED", "KILLED", "RETRIED", "CANCELLED", "SKIPPED"];

function attemptDates(attempt) {
  const st = attempt.state || {};
  const h = st.histories || [];
  const start = st.startDate || (h.length ? h[0].date : null);
  const end = st.endDate || (TERMINAL.includes(st.current) && h.length ? h[h.length - 1].date : null);
  return { start, end, ms: start && end ? new Date(end) - new Date(start) : null };
}

function formatNumber(n) { return Number(n || 0).toLocaleString("en-US"); }

function shortId(id) { return id && id.length > 10 ? id.slice(0, 8) + "…" : (id || ""); }

// value of a datetime-local input (local time) -> ISO-8601 with the offset, or "" when empty
function localToIso(value) {
  if (!value) return "";
  const d = new Date(value);
  return isNaN(d) ? "" : d.toISOString();
}

// ISO-8601 -> value for a datetime-local input (local time)
function isoToLocal(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function localDay(date) { return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`; }
