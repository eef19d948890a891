// The Execution page's Gantt: one row per task run (in start order), a bar per attempt coloured by its
// state on the execution's time axis. Virtualized: only the rows in view (and a few around) are in the DOM,
// so an execution of 100,000 task runs scrolls like one of ten; rows not loaded yet ask `need(first, last)`.
"use strict";

const GANTT_ROW = 28;
const GANTT_OVERSCAN = 8;

function createGantt({ body, spacer, rows, ticks, onOpen, need }) {
  const g = {
    runs: [], // index -> task run (sparse until loaded)
    index: new Map(), // task run id -> index
    depth: new Map(), // task run id -> nesting depth (a child of a flowable task is indented)
    total: 0,
    count: 0, // rows loaded (not necessarily the first ones: a deep jump loads the page it lands on)
    start: 0,
    end: 0,
    frame: 0,
    rendered: "",
  };

  function depthOf(run) {
    if (g.depth.has(run.id)) return g.depth.get(run.id);
    const parent = run.parentTaskRunId && g.index.has(run.parentTaskRunId) ? g.runs[g.index.get(run.parentTaskRunId)] : null;
    const depth = parent ? Math.min(depthOf(parent) + 1, 8) : 0;
    g.depth.set(run.id, depth);
    return depth;
  }

  function span(state, fallbackEnd) {
    const h = (state && state.histories) || [];
    const start = state && (state.startDate || (h.length ? h[0].date : null));
    let end = state && state.endDate;
    if (!end && state && TERMINAL.includes(state.current) && h.length) end = h[h.length - 1].date;
    return { start: start ? Date.parse(start) : null, end: end ? Date.parse(end) : fallbackEnd };
  }

  function pct(ms) {
    const width = Math.max(1, g.end - g.start);
    return Math.min(100, Math.max(0, ((ms - g.start) / width) * 100));
  }

  function bar(state, label, now) {
    const { start, end } = span(state, now);
    if (start === null) return null;
    const left = pct(start);
    const node = el("span", { class: "gantt-bar", "data-state": state.current, title: `${label}: ${state.current}, ${formatDuration(end - start)}` });
    node.style.left = left + "%";
    node.style.width = Math.max(0.4, pct(end) - left) + "%";
    node.style.setProperty("--c", stateColor(state.current));
    return node;
  }

  function row(i, now) {
    const run = g.runs[i];
    const top = i * GANTT_ROW;
    if (!run) {
      const empty = el("div", { class: "gantt-row loading", role: "listitem" }, el("span", { class: "gantt-label muted" }, "loading…"));
      empty.style.top = top + "px";
      return empty;
    }
    const st = run.state || {};
    const label = el(
      "button",
      { type: "button", class: "gantt-label", "data-id": run.id, title: `${run.taskId}${run.value ? " · " + run.value : ""}` },
      el("span", { class: "task" }, run.taskId),
      run.value ? el("span", { class: "value" }, run.value) : null,
      (run.attempts || []).length > 1 ? el("span", { class: "gantt-retries" }, `${run.attempts.length} attempts`) : null,
      el("span", { class: "gantt-duration muted" }, formatDuration(taskRunDuration(run))),
    );
    label.style.paddingLeft = 8 + depthOf(run) * 14 + "px";
    label.addEventListener("click", () => onOpen(run));
    const track = el("span", { class: "gantt-track" });
    const attempts = run.attempts || [];
    if (attempts.length) {
      attempts.forEach((a, n) => {
        const b = bar(a.state || {}, `attempt ${n + 1}`, now);
        if (b) track.append(b);
      });
    } else {
      const b = bar(st, run.taskId, now);
      if (b) track.append(b);
    }
    const node = el("div", { class: "gantt-row", role: "listitem", "data-state": st.current, "data-index": i }, label, track);
    node.style.top = top + "px";
    return node;
  }

  function paint() {
    g.frame = 0;
    const began = performance.now();
    const height = body.clientHeight || 420;
    const first = Math.max(0, Math.floor(body.scrollTop / GANTT_ROW) - GANTT_OVERSCAN);
    const last = Math.min(g.total, Math.ceil((body.scrollTop + height) / GANTT_ROW) + GANTT_OVERSCAN);
    const missing = [];
    for (let i = first; i < last; i++) if (!g.runs[i]) missing.push(i);
    if (missing.length && need) need(missing[0], missing[missing.length - 1]);
    const now = Date.now();
    const nodes = [];
    for (let i = first; i < last; i++) nodes.push(row(i, now));
    rows.replaceChildren(...nodes);
    body.dataset.paintMs = (performance.now() - began).toFixed(2); // what one frame of scrolling costs (bench/)
  }

  function schedule() {
    if (!g.frame) g.frame = requestAnimationFrame(paint);
  }

  function paintTicks() {
    const width = g.end - g.start;
    const marks = [];
    for (let n = 0; n <= 4; n++) {
      const mark = el("span", { class: "gantt-tick" }, formatDuration((width * n) / 4));
      mark.style.left = n * 25 + "%";
      marks.push(mark);
    }
    ticks.replaceChildren(...marks);
  }

  body.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", schedule);

  return {
    get total() {
      return g.total;
    },
    get loaded() {
      return g.count;
    },
    run: (i) => g.runs[i],
    byId: (id) => (g.index.has(id) ? g.runs[g.index.get(id)] : null),
    setRange(start, end) {
      g.start = start;
      g.end = Math.max(end, start + 1);
      paintTicks();
      schedule();
    },
    setTotal(total) {
      g.total = total;
      spacer.style.height = total * GANTT_ROW + "px";
      schedule();
    },
    put(offset, runs) {
      runs.forEach((run, k) => {
        if (!g.runs[offset + k]) g.count++;
        g.runs[offset + k] = run;
        g.index.set(run.id, offset + k);
      });
      schedule();
    },
    // A task run changed (pushed by the server): in place when shown, else at the end once all are loaded.
    update(run) {
      const at = g.index.get(run.id);
      if (at !== undefined) g.runs[at] = run;
      else if (g.count === g.total) {
        g.runs[g.total] = run;
        g.index.set(run.id, g.total);
        g.count++;
        this.setTotal(g.total + 1);
      }
      schedule();
    },
    repaint: schedule,
  };
}
