"""The Execution page's Gantt at scale: index one execution of N task runs (default 1,000 and 100,000) with
the real templates, serve the real app, open `/execution.html?id=...` in headless Chromium (Debian's, as
the browser tests) and time, per round:

- first paint: navigation start to the Gantt's first rows drawn (`document.body.dataset.painted`, set by
  execution.js once the first page of task runs is on screen): the page, the execution, one task-run page;
- scroll frame: the Gantt's work for one scroll step of 30 rows within the rows loaded (its `paint`, the
  rows in view rebuilt: only those are in the DOM, so this does not grow with N);
- deep jumps: a jump to row 10,000, then one to the middle row (N / 2), until it is drawn: one page read at
  that position (`/api/v1/executions/{id}/taskruns?offset=`), not the pages before it; when N is above it.

    .venv/bin/python bench/execution_page.py                     # --counts 1000,100000 --rounds 5
    .venv/bin/python bench/execution_page.py --counts 1000000 --prefix bench-page-1m --keep   # index once
    .venv/bin/python bench/execution_page.py --counts 1000000 --prefix bench-page-1m          # reuse, then drop

It uses the servers CONVEYOR_KAFKA_BOOTSTRAP and CONVEYOR_ELASTICSEARCH_URL name, under a fresh prefix whose
indices are deleted at the end (`--prefix` names one: an execution already indexed there in full is not
indexed again; `--keep` leaves the indices for the next run, `--load-only` measures nothing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch.helpers import streaming_bulk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.taskruns_search import clean
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import TaskRunChange
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.model import Attempt, Execution, TaskRun
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.indexer import documents, templates
from tests.apiserver import ADMIN_AUTH, serving
from tests.e2e.web import CHROMIUM, CHROMIUM_ARGS

START = datetime(2026, 1, 5, 8, tzinfo=UTC)
DEEP_ROW = 10_000


def _state(start: datetime, seconds: float, final: StateType) -> State:
    steps = [(StateType.CREATED, 0.0), (StateType.RUNNING, 0.01), (final, seconds)]
    return State(current=final, histories=[StateHistory(state=s, date=start + timedelta(seconds=t)) for s, t in steps])


def _task_runs(prefix: str, execution_id: str, count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        start = START + timedelta(milliseconds=n * 36)  # an hour for 100,000
        final = StateType.FAILED if n % 97 == 0 else StateType.SUCCESS
        state = _state(start, 0.5 + (n % 7) / 10, final)
        run = TaskRun(
            id=f"{execution_id}-{n:06d}",
            execution_id=execution_id,
            namespace="bench.page",
            flow_id="wide",
            task_id="item",
            parent_task_run_id=f"{execution_id}-000000" if n else None,
            value=str(n),
            attempts=[Attempt(state=state, worker_id="worker-1")],
            state=state,
        )
        yield documents.taskrun_action(prefix, TaskRunChange(revision=n + 1, task_run=run)).bulk()


def indexed(es: ElasticsearchSettings, execution_id: str) -> int:
    client = elasticsearch_client(es)
    try:
        found = client.count(
            index=templates.alias(es.index_prefix, templates.TASKRUNS),
            query={"term": {"executionId": execution_id}},
            ignore_unavailable=True,
        )
        return int(found["count"])
    finally:
        client.close()


def load(es: ElasticsearchSettings, execution_id: str, count: int) -> float:
    if indexed(es, execution_id) == count:
        return 0.0
    client = elasticsearch_client(es)
    began = time.monotonic()
    ended = START + timedelta(milliseconds=count * 36 + 2000)
    execution = Execution(
        id=execution_id,
        namespace="bench.page",
        flow_id="wide",
        state=State(
            current=StateType.SUCCESS,
            histories=[
                StateHistory(state=StateType.CREATED, date=START),
                StateHistory(state=StateType.RUNNING, date=START),
                StateHistory(state=StateType.SUCCESS, date=ended),
            ],
        ),
        task_run_count=count,
        revision=count + 1,
    )

    actions = _task_runs(es.index_prefix, execution_id, count)
    for _ in streaming_bulk(client, actions, chunk_size=5000, max_retries=5, raise_on_error=True):
        pass
    action = documents.execution_action(es.index_prefix, execution).bulk()
    client.index(index=action["_index"], id=action["_id"], document=action["_source"], refresh=True)
    client.indices.refresh(index=f"{es.index_prefix}-*")
    client.close()
    return time.monotonic() - began


def signed_in(playwright: Any, base: str) -> tuple[Any, Any]:
    """Debian's Chromium, and a page of it at 1280x800 signed in as the admin."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{base}/login")
    page.fill("#user", ADMIN_AUTH[0])
    page.fill("#password", ADMIN_AUTH[1])
    page.click("#login button[type=submit]")
    page.wait_for_url("**/")
    return browser, page


def measure(base: str, execution_id: str, count: int, rounds: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"first paint": [], "scroll frame": [], "deep jump": [], "middle jump": []}
    with sync_playwright() as playwright:
        browser, page = signed_in(playwright, base)
        for _ in range(rounds + 1):  # the first round warms the server, the caches and the page's JIT
            page.goto(f"{base}/execution.html?id={execution_id}")
            page.wait_for_selector("body[data-painted]", timeout=60_000)
            painted = float(page.evaluate("() => Number(document.body.dataset.painted)"))
            frames = page.evaluate(
                """async () => {
                  const body = document.querySelector('#gantt-body');
                  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
                  const times = [];
                  for (let i = 1; i <= 5; i++) {
                    const t = performance.now();
                    body.scrollTop = i * 30 * 28;
                    await frame();
                    times.push(Number(body.dataset.paintMs));
                  }
                  return times;
                }"""
            )
            total = int(page.locator("#gantt-count").inner_text().replace(",", ""))
            assert total == count, (total, count)
            out["first paint"].append(painted)
            out["scroll frame"].append(statistics.median(frames))
            for row, key in ((DEEP_ROW, "deep jump"), (count // 2, "middle jump")):
                if count <= DEEP_ROW:
                    continue
                began = time.monotonic()
                page.evaluate(f"() => {{ document.querySelector('#gantt-body').scrollTop = {row} * 28; }}")
                page.wait_for_selector(f"#gantt-rows .gantt-row[data-index='{row}']", timeout=120_000)
                out[key].append((time.monotonic() - began) * 1000)
                shown = page.locator(f"#gantt-rows .gantt-row[data-index='{row}'] .value").inner_text()
                assert shown == str(row), (shown, row)  # the task run at that position
        browser.close()
    return {k: v[1:] for k, v in out.items()}  # without the warm-up round


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1000,100000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prefix", default=None, help="index prefix (default a fresh one)")
    parser.add_argument("--keep", action="store_true", help="keep the indices for the next run")
    parser.add_argument("--load-only", action="store_true", help="index, measure nothing")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    prefix = args.prefix or f"bench-page-{uuid.uuid4().hex[:6]}"
    es = ElasticsearchSettings(
        url=os.environ.get("CONVEYOR_ELASTICSEARCH_URL", "http://127.0.0.1:9200"), index_prefix=prefix
    )
    kafka = KafkaSettings(
        bootstrap=os.environ.get("CONVEYOR_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), topic_prefix=f"{prefix}."
    )
    ensure_topics(kafka)
    client = elasticsearch_client(es)
    templates.install(client, prefix)
    rows = []
    try:
        with serving(kafka, es) as base:
            for count in (int(c) for c in args.counts.split(",")):
                execution_id = f"ex-{count}"
                seconds = load(es, execution_id, count)
                if args.load_only:
                    print(f"{count:,} task runs indexed in {seconds:.1f} s under {prefix}")
                    continue
                found = measure(base, execution_id, count, args.rounds)
                rows.append((count, seconds, found))
    finally:
        if not args.keep:
            clean(client, prefix)
        client.close()
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    print("| task runs | indexed in | first paint | scroll frame | jump to row 10,000 | jump to row N / 2 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count, seconds, found in rows:
        jumps = [f"{statistics.median(found[k]):,.0f} ms" if found[k] else "—" for k in ("deep jump", "middle jump")]
        print(
            f"| {count:,} | {seconds:.1f} s | {statistics.median(found['first paint']):,.0f} ms "
            f"| {statistics.median(found['scroll frame']):.1f} ms | {' | '.join(jumps)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
