"""Every page's first render with 1,000,000 task runs indexed: index, once, under a fixed prefix, the search
bench's task runs (`bench/taskruns_search.py`, 990,000 of them over 90 days), an execution document and a
log line for each of their executions, one execution of 10,000 task runs (`bench/execution_page.py`'s) and
the search bench's 60 flows (deployed through the API); serve the real app and open each page in headless
Chromium (Debian's, as the browser tests), timing, per round after a warm-up round:

- first render: navigation start to the page's main content drawn (its table's first row; the Task Runs
  page also its daily chart; the Execution page its Gantt's first rows, `body[data-painted]`);
- its API calls, from the browser's resource timing: the slowest one's time to first byte (the server's
  time, Elasticsearch included) and the sum of all (what the page waited for, when in sequence).

    .venv/bin/python bench/pages.py --load-only       # index the million under bench-pages-1m (once)
    .venv/bin/python bench/pages.py                   # measure every page (reuses what is indexed)
    .venv/bin/python bench/pages.py --drop            # measure, then delete the indices

It uses the servers CONVEYOR_KAFKA_BOOTSTRAP and CONVEYOR_ELASTICSEARCH_URL name. What is indexed already is
not indexed again (the task runs are counted; the flows are deployed when the flows topic has none).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import execution_page, taskruns_search
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import LogEntry
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.model import Execution
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory
from conveyor.indexer import documents, templates
from tests.apiserver import ADMIN_AUTH, serving
from tests.e2e.web import CHROMIUM

PREFIX = "bench-pages-1m"
TOTAL = 1_000_000
LARGE = 10_000  # the task runs of the one large execution; the rest come from the search bench
START = datetime(2026, 9, 5, tzinfo=UTC)  # to today: the Task Runs chart shows the last 30 days
DAYS = 90
LARGE_ID = f"ex-{LARGE}"

# page -> (path, the JavaScript condition of its first render)
PAGES: dict[str, tuple[str, str]] = {
    "Task Runs": ("/", "document.querySelector('#taskruns tbody tr') && document.querySelector('#chart svg')"),
    "Executions": ("/executions", "document.querySelector('#executions tbody tr')"),
    "Logs": ("/logs", "document.querySelector('#lines tbody tr')"),
    "Flows": ("/flows", "document.querySelector('#flows tbody tr')"),
    "Execution (10,000 task runs)": (f"/execution.html?id={LARGE_ID}", "document.body.dataset.painted"),
}


def _execution(docs: list[dict[str, Any]]) -> Execution:
    """The execution document the search bench's task runs of one execution imply (its worst state)."""
    first = docs[0]
    states = [d["state"]["current"] for d in docs]
    order = ["RUNNING", "CREATED", "FAILED", "KILLED", "WARNING", "SUCCESS", "RETRIED", "SKIPPED"]
    final = min(states, key=lambda s: order.index(s) if s in order else len(order))
    final = "SUCCESS" if final in ("RETRIED", "SKIPPED") else final
    began = datetime.fromisoformat(first["state"]["startDate"])
    ends = [d["state"].get("endDate") for d in docs]
    histories = [StateHistory(state="CREATED", date=began), StateHistory(state="RUNNING", date=began)]
    if final not in ("RUNNING", "CREATED"):
        ended = max(datetime.fromisoformat(e) for e in ends if e) if any(ends) else began
        histories.append(StateHistory(state=final, date=ended))
    return Execution(
        id=first["executionId"],
        namespace=first["namespace"],
        flow_id=first["flowId"],
        state=State(current=final, histories=histories),
        task_run_count=len(docs),
        revision=len(docs) + 2,
    )


def _actions(prefix: str, count: int) -> Iterator[dict[str, Any]]:
    """The task runs, and after each execution's last one its execution document and a log line."""
    group: list[dict[str, Any]] = []
    closed = [0]

    def close() -> Iterator[dict[str, Any]]:
        execution = _execution(group)
        yield documents.execution_action(prefix, execution).bulk()
        last = group[-1]
        entry = LogEntry(
            namespace=execution.namespace,
            flow_id=execution.flow_id,
            execution_id=execution.id,
            task_id=last["taskId"],
            task_run_id=last["id"],
            attempt_number=1,
            level="ERROR" if execution.state.current == "FAILED" else "INFO",
            message=f"{last['taskId']} of {execution.flow_id} ended {execution.state.current}",
            timestamp=datetime.fromisoformat(last["state"]["startDate"]),
        )
        closed[0] += 1
        yield documents.log_action(prefix, entry, f"{prefix}.logs", 0, closed[0]).bulk()

    for doc in taskruns_search.documents(count, START, DAYS):
        if group and doc["executionId"] != group[0]["executionId"]:
            yield from close()
            group = []
        group.append(doc)
        yield taskruns_search.taskrun_action(prefix, doc)
    if group:
        yield from close()


def _count(client: Elasticsearch, prefix: str) -> int:
    found = client.count(index=templates.alias(prefix, templates.TASKRUNS), ignore_unavailable=True)
    return int(found["count"])


def load(es: ElasticsearchSettings, kafka: KafkaSettings) -> float:
    """Index what is missing; the seconds it took."""
    client = elasticsearch_client(es)
    templates.install(client, es.index_prefix)
    began = time.monotonic()
    try:
        if _count(client, es.index_prefix) < TOTAL - LARGE:
            done = 0
            bulk = streaming_bulk(
                client, _actions(es.index_prefix, TOTAL - LARGE), chunk_size=5000, max_retries=5, raise_on_error=True
            )
            for done, _ in enumerate(bulk, start=1):
                if done % 100_000 == 0:
                    print(f"  {done:>9,} documents ({done / (time.monotonic() - began):,.0f}/s)", file=sys.stderr)
            client.indices.refresh(index=f"{es.index_prefix}-*")
        execution_page.load(es, LARGE_ID, LARGE)
    finally:
        client.close()
    return time.monotonic() - began


def deploy_flows(base: str) -> None:
    """The search bench's 60 flows (their namespaces and ids, a Log task each), deployed when missing."""
    import random

    with httpx.Client(base_url=base, auth=ADMIN_AUTH, timeout=30) as http:
        if http.get("/api/v1/flows", params={"size": 1}).json()["total"] >= 60:
            return
        world = taskruns_search.World(random.Random(7))
        for namespace, flow_id, tasks in world.flows:
            steps = "".join(f"  - id: {t}\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n" for t in tasks)
            source = f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n{steps}"
            answer = http.post("/api/v1/flows", content=source, headers={"Content-Type": "application/x-yaml"})
            answer.raise_for_status()


def measure(base: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, list[float]]] = {
        name: {"render": [], "slowest": [], "sum": [], "calls": []} for name in PAGES
    }
    with sync_playwright() as playwright:
        browser, page = execution_page.signed_in(playwright, base)
        for n in range(rounds + 1):  # the first round warms the server, the caches and the page's JIT
            for name, (path, condition) in PAGES.items():
                page.goto(f"{base}{path}", wait_until="commit")
                # polled each frame by a script of the debugging protocol (the page's CSP forbids the string
                # functions of Playwright's wait_for_function)
                rendered = float(
                    page.evaluate(
                        f"""async () => {{
                          const frame = () => new Promise((r) => requestAnimationFrame(r));
                          const began = performance.now();
                          while (!({condition})) {{
                            if (performance.now() - began > 60000) throw new Error("not rendered: {name}");
                            await frame();
                          }}
                          window.__rendered = performance.now();
                          return window.__rendered;
                        }}"""
                    )
                )
                calls = page.evaluate(
                    """() => performance.getEntriesByType('resource')
                        .filter((e) => e.name.includes('/api/') && e.responseEnd <= window.__rendered)
                        .map((e) => [e.name, e.responseStart - e.requestStart, e.duration])"""
                )
                if n == 0:
                    continue
                found = out[name]
                found["render"].append(rendered)
                found["slowest"].append(max((c[1] for c in calls), default=0.0))
                found["sum"].append(sum(c[2] for c in calls))
                found["calls"].append(float(len(calls)))
                if n == rounds:
                    slow = sorted(calls, key=lambda c: -c[1])[:3]
                    print(f"  {name}: " + ", ".join(f"{c[0].split(base)[-1][:90]} {c[1]:.0f} ms" for c in slow))
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prefix", default=PREFIX, help=f"index prefix (default {PREFIX})")
    parser.add_argument("--load-only", action="store_true", help="index, measure nothing")
    parser.add_argument("--drop", action="store_true", help="delete the indices at the end")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    es = ElasticsearchSettings(
        url=os.environ.get("CONVEYOR_ELASTICSEARCH_URL", "http://127.0.0.1:9200"), index_prefix=args.prefix
    )
    kafka = KafkaSettings(
        bootstrap=os.environ.get("CONVEYOR_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), topic_prefix=f"{args.prefix}."
    )
    ensure_topics(kafka)
    seconds = load(es, kafka)
    print(f"indexed in {seconds:.1f} s under {args.prefix}", file=sys.stderr)
    client = elasticsearch_client(es)
    try:
        with serving(kafka, es) as base:
            deploy_flows(base)
            if args.load_only:
                return 0
            found = measure(base, args.rounds)
    finally:
        if args.drop:
            taskruns_search.clean(client, args.prefix)
        client.close()
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    print(f"{_count_all(es):,} task runs indexed; medians of {args.rounds} rounds after a warm-up round")
    print("| page | first render | API calls | slowest call (time to first byte) | all calls (sum) |")
    print("|---|---:|---:|---:|---:|")
    for name, f in found.items():
        med = {k: statistics.median(v) for k, v in f.items()}
        print(
            f"| {name} | {med['render']:,.0f} ms | {med['calls']:.0f} | {med['slowest']:,.0f} ms "
            f"| {med['sum']:,.0f} ms |"
        )
    return 0


def _count_all(es: ElasticsearchSettings) -> int:
    client = elasticsearch_client(es)
    try:
        return _count(client, es.index_prefix)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
