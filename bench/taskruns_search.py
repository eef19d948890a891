"""The Task Runs search at scale: index N synthetic task runs (default 1,000,000) with the real index
templates, then time the real queries (`conveyor.indexer.queries`) the API and the page run.

    .venv/bin/python bench/taskruns_search.py                      # 1M task runs, shared or local ES
    .venv/bin/python bench/taskruns_search.py --count 200000 --keep

Measured, after a warm-up, with the client's wall clock (what the API adds on top is a few ms of JSON):
- search: 25 per page, sorted, over a mix of filters (none, state, namespace prefix, flow, task, free text,
  a day's or a week's window, combinations), first pages and pages reached by the `search_after` cursor;
- the daily aggregation over 30 and 90 days, with and without filters.

The documents have the shape `conveyor.indexer.documents.taskrun_document` writes (the bench builds the
dicts directly: a million pydantic models would time Python, not Elasticsearch). The bench indices
(`<prefix>-taskruns-YYYY.MM`) and templates are deleted at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.settings import ElasticsearchSettings
from conveyor.indexer import queries, templates

STATES = [
    ("SUCCESS", 80),
    ("FAILED", 7),
    ("WARNING", 4),
    ("RETRIED", 3),
    ("RUNNING", 2),
    ("CREATED", 2),
    ("KILLED", 1),
    ("SKIPPED", 1),
]
TERMINAL = {"SUCCESS", "FAILED", "WARNING", "RETRIED", "KILLED", "SKIPPED"}
WORKERS = [f"worker-{i}" for i in range(1, 9)]


class World:
    """The namespaces, flows and tasks the synthetic task runs belong to."""

    def __init__(self, rng: random.Random) -> None:
        teams = [f"company.team{t}" for t in range(1, 6)]
        self.namespaces = [f"{team}.{sub}" for team in teams for sub in ("etl", "ml", "ops", "web")]
        self.flows = []
        for i in range(60):
            namespace = rng.choice(self.namespaces)
            tasks = [f"task{j}" for j in range(1, rng.randint(3, 8) + 1)]
            self.flows.append((namespace, f"flow{i:02d}", tasks))
        self.states = [s for s, _ in STATES]
        self.weights = [w for _, w in STATES]


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(88):022x}"


def taskrun_action(prefix: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The bulk action that indexes one task-run document as the indexer does (its month's index, versioned
    by revision)."""
    return {
        "_index": templates.monthly_index(
            prefix, templates.TASKRUNS, datetime.fromisoformat(doc["state"]["startDate"])
        ),
        "_id": doc["id"],
        "version": doc["revision"],
        "version_type": "external",
        "_source": doc,
    }


def documents(count: int, start: datetime, days: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`count` task-run documents spread over `days` days from `start`, a few per execution."""
    rng = random.Random(seed)
    world = World(rng)
    span = days * 86400
    made = 0
    while made < count:
        namespace, flow_id, tasks = rng.choice(world.flows)
        execution_id = _id(rng)
        at = start + timedelta(seconds=rng.random() * span)
        foreach = rng.random() < 0.2
        for task_id in tasks:
            for value in ("a", "b", "c") if foreach and task_id == tasks[-1] else (None,):
                if made >= count:
                    return
                at += timedelta(milliseconds=rng.randint(5, 400))
                state = rng.choices(world.states, world.weights)[0]
                ms = int(rng.lognormvariate(6.5, 1.4))
                yield _document(rng, execution_id, namespace, flow_id, task_id, value, state, at, ms)
                made += 1
                at += timedelta(milliseconds=ms)


def _document(
    rng: random.Random,
    execution_id: str,
    namespace: str,
    flow_id: str,
    task_id: str,
    value: str | None,
    state: str,
    at: datetime,
    ms: int,
) -> dict[str, Any]:
    end = at + timedelta(milliseconds=ms)
    terminal = state in TERMINAL
    histories = [{"state": "CREATED", "date": at.isoformat()}]
    if state != "CREATED":
        histories.append({"state": "RUNNING", "date": (at + timedelta(milliseconds=2)).isoformat()})
    if terminal:
        histories.append({"state": state, "date": end.isoformat()})
    attempts_count = 1 + (rng.random() < 0.06) + (rng.random() < 0.02)
    worker = rng.choice(WORKERS)
    attempt_histories = histories[1:] or histories
    attempt_state = {"current": state, "histories": attempt_histories, "startDate": attempt_histories[0]["date"]}
    if terminal:
        attempt_state["endDate"] = end.isoformat()
    doc: dict[str, Any] = {
        "id": _id(rng),
        "executionId": execution_id,
        "namespace": namespace,
        "flowId": flow_id,
        "taskId": task_id,
        "attempts": [{"state": attempt_state, "workerId": worker}] * attempts_count,
        "outputs": {"value": f"{task_id} done", "rows": rng.randint(0, 10_000)} if state == "SUCCESS" else None,
        "state": {
            "current": state,
            "histories": histories,
            "startDate": at.isoformat(),
            "endDate": end.isoformat() if terminal else None,
            "durationMs": ms if terminal else None,
        },
        "attemptsCount": attempts_count,
        "workerId": worker,
        "revision": len(histories),
    }
    if value is not None:
        doc["value"] = value
    return {k: v for k, v in doc.items() if v is not None}


def load(client: Elasticsearch, prefix: str, count: int, start: datetime, days: int) -> float:
    """Index the documents into their monthly indices; returns the seconds it took (refresh included)."""
    templates.install(client, prefix)
    pattern = templates.index_pattern(prefix, templates.TASKRUNS)
    month = start.replace(day=1)
    while month <= start + timedelta(days=days):
        index = templates.monthly_index(prefix, templates.TASKRUNS, month)
        if not client.indices.exists(index=index):
            client.indices.create(index=index)
        month = (month + timedelta(days=32)).replace(day=1)
    client.indices.put_settings(index=pattern, settings={"index": {"refresh_interval": "-1"}})
    began = time.monotonic()

    def actions() -> Iterator[dict[str, Any]]:
        for doc in documents(count, start, days):
            yield taskrun_action(prefix, doc)

    bulk = streaming_bulk(client, actions(), chunk_size=5000, max_retries=5, raise_on_error=True)
    for done, _ in enumerate(bulk, start=1):
        if done % 100_000 == 0:
            rate = done / (time.monotonic() - began)
            print(f"  indexed {done:>9,} ({rate:,.0f}/s)", file=sys.stderr)
    client.indices.put_settings(index=pattern, settings={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=pattern)
    return time.monotonic() - began


def search_mix(rng: random.Random, world: World, start: datetime, days: int) -> list[tuple[str, dict[str, Any]]]:
    namespace, flow_id, tasks = rng.choice(world.flows)
    day = start + timedelta(days=rng.randrange(days))
    sort = rng.choice(["state.startDate:desc", "state.durationMs:desc", "taskId:asc", "state.current:asc"])
    return [
        ("no filter", {"sort": sort}),
        ("state FAILED", {"state": ["FAILED"], "sort": sort}),
        ("namespace prefix", {"namespace": namespace.rsplit(".", 1)[0], "sort": sort}),
        ("flow", {"namespace": namespace, "flow_id": flow_id, "sort": sort}),
        ("flow + task + state", {"flow_id": flow_id, "task_id": rng.choice(tasks), "state": ["SUCCESS", "WARNING"]}),
        ("one day", {"start": day, "end": day + timedelta(days=1), "sort": sort}),
        ("one week + state", {"start": day, "end": day + timedelta(days=7), "state": ["FAILED", "KILLED"]}),
        ("free text q", {"q": flow_id, "sort": sort}),
    ]


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    """Milliseconds one call of `fn(*args, **kwargs)` takes."""
    began = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - began) * 1000


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def measure(client: Elasticsearch, prefix: str, start: datetime, days: int, rounds: int) -> dict[str, list[float]]:
    rng = random.Random(11)
    world = World(random.Random(7))
    search, daily = queries.search_taskruns, queries.daily_taskrun_stats
    results: dict[str, list[float]] = {}
    for _ in range(5):  # warm-up: caches, field data, the JIT
        for _, kwargs in search_mix(rng, world, start, days):
            search(client, prefix, size=25, **kwargs)
    for _ in range(rounds):
        for name, kwargs in search_mix(rng, world, start, days):
            results.setdefault(name, []).append(timed(search, client, prefix, size=25, **kwargs))
    # pages reached with the cursor: 40 pages deep (1,000 hits in), no filter and a flow filter
    cursor_pages: list[tuple[str, dict[str, Any]]] = [
        ("cursor page 41", {}),
        ("cursor page 41, flow", {"flow_id": "flow07"}),
    ]
    for name, kwargs in cursor_pages:
        for _ in range(max(3, rounds // 10)):
            cursor = None
            for _ in range(40):
                cursor = search(client, prefix, size=25, search_after=cursor, **kwargs).next
            results.setdefault(name, []).append(timed(search, client, prefix, size=25, search_after=cursor, **kwargs))
    end = start + timedelta(days=days - 1)
    for label, window in (("daily stats, 30 days", 30), ("daily stats, 90 days", 90)):
        first = end - timedelta(days=window - 1)
        for _ in range(max(5, rounds // 4)):
            results.setdefault(label, []).append(timed(daily, client, prefix, start=first, end=end))
            team = rng.choice(world.namespaces).rsplit(".", 1)[0]
            results.setdefault(f"{label}, namespace", []).append(
                timed(daily, client, prefix, start=first, end=end, namespace=team)
            )
    return results


def report(
    results: dict[str, list[float]], count: int, load_seconds: float | None, client: Elasticsearch, prefix: str
) -> None:
    stats = client.indices.stats(index=templates.alias(prefix, templates.TASKRUNS), metric="store,docs")["_all"][
        "primaries"
    ]
    # the node's version (the integration-test distribution refuses `GET /`)
    nodes = client.cat.nodes(h="version,heap.max", format="json").body
    assert isinstance(nodes, list)  # format=json: one object per node
    node = nodes[0]
    print(f"\nTask Runs search bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"Elasticsearch {node['version']} ({node['heap.max']} heap)"
    )
    print(
        f"documents: {stats['docs']['count']:,} task runs, {stats['store']['size_in_bytes'] / 2**20:,.0f} MiB on disk"
        + (f", indexed in {load_seconds:,.0f} s ({count / load_seconds:,.0f}/s)" if load_seconds else "")
    )
    print(f"\n{'query (25 per page, sorted)':<36}{'n':>5}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}")
    everything: list[float] = []
    for name, samples in results.items():
        median, p99, worst = percentiles(samples)
        if not name.startswith("daily"):
            everything.extend(samples)
        print(f"{name:<36}{len(samples):>5}{median:>11.1f}{p99:>9.1f}{worst:>9.1f}")
    median, p99, worst = percentiles(everything)
    print(f"{'all searches':<36}{len(everything):>5}{median:>11.1f}{p99:>9.1f}{worst:>9.1f}")


def clean(client: Elasticsearch, prefix: str) -> None:
    for kind in templates.KINDS:
        client.indices.delete(
            index=templates.index_pattern(prefix, kind), allow_no_indices=True, ignore_unavailable=True
        )
        client.options(ignore_status=404).indices.delete_index_template(name=templates.alias(prefix, kind))
    for name in templates.component_templates(prefix):
        client.options(ignore_status=404).cluster.delete_component_template(name=name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="task runs to index (default 1,000,000)")
    parser.add_argument("--days", type=int, default=90, help="days the task runs are spread over (default 90)")
    parser.add_argument("--rounds", type=int, default=100, help="rounds of the query mix (default 100)")
    parser.add_argument("--prefix", default="bench-taskruns", help="index prefix (default bench-taskruns)")
    parser.add_argument("--reuse", action="store_true", help="query what an earlier --keep run left")
    parser.add_argument("--keep", action="store_true", help="keep the bench indices afterwards")
    args = parser.parse_args()
    es = ElasticsearchSettings(index_prefix=args.prefix, request_timeout=120)
    client = elasticsearch_client(es)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    try:
        load_seconds = None
        if not args.reuse:
            clean(client, args.prefix)
            print(f"indexing {args.count:,} task runs into {args.prefix}-taskruns-* …", file=sys.stderr)
            load_seconds = load(client, args.prefix, args.count, start, args.days)
        results = measure(client, args.prefix, start, args.days, args.rounds)
        report(results, args.count, load_seconds, client, args.prefix)
    finally:
        if not args.keep:
            clean(client, args.prefix)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
