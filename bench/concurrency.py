"""What flow concurrency costs: `--count` one-task executions of a flow with `concurrency: {limit}`, against the
same flow without it, on an executor (with its slot keeper) and a worker in threads, on the shared or given
Kafka (CONVEYOR_KAFKA_BOOTSTRAP).

    .venv/bin/python bench/concurrency.py [--count 300] [--limits 1,3,10] [--rounds 3]

Per row: the drain time (first creation to last end), executions per second, and the slot hand-off: for each
queued execution, from the end of the execution whose slot it took (the latest end before its start) to its
RUNNING date (the keeper's grant): median and p95 over the queued executions. Medians over `--rounds`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conveyor.common.flow import Flow
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.settings import ExecutorSettings, KafkaSettings, WorkerSettings
from conveyor.common.state import StateType
from conveyor.executor.keeper import SlotKeeper
from conveyor.executor.service import Executor
from conveyor.worker.service import Worker
from tests.concurrency import first
from tests.integration.inprocess import InThreads, ended

S = StateType
Row = tuple[float, float, float, float]  # drain s, executions/s, hand-off p50 ms, hand-off p95 ms


def flow(limit: int | None) -> Flow:
    concurrency = f"concurrency: {{limit: {limit}}}\n" if limit else ""
    return load_flow(
        f"id: bench{limit or 0}\nnamespace: conveyor.bench\n{concurrency}tasks:\n"
        "  - {id: work, type: io.kestra.plugin.core.debug.Return, format: x}\n"
    )


def handoffs(executions: list[Execution]) -> list[float]:
    ends = sorted(e.state.end_date for e in executions if e.state.end_date is not None)
    out = []
    for execution in executions:
        began = first(execution, S.RUNNING)
        if first(execution, S.QUEUED) is None or began is None:
            continue
        freed = [end for end in ends if end <= began]
        if freed:
            out.append((began - freed[-1]).total_seconds() * 1000)
    return out


def one(kafka: KafkaSettings, limit: int | None, count: int) -> Row:
    bench_flow = flow(limit)
    producer = Producer(kafka)
    ids = []
    for _ in range(count):
        created = new_execution(bench_flow)
        producer.send(Topics.of(kafka).execution_events, created.execution_id, created.to_json())
        ids.append(created.execution_id)
    producer.flush()
    found = list(ended(kafka, ids, timeout=600).values())
    assert len(found) == count and all(e.state.current == S.SUCCESS for e in found), "not every execution succeeded"
    start = min(e.state.histories[0].date for e in found)
    end = max(e.state.end_date or start for e in found)
    drain = (end - start).total_seconds()
    gaps = sorted(handoffs(found)) or [0.0]
    return drain, count / drain, statistics.median(gaps), gaps[max(0, int(len(gaps) * 0.95) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--limits", default="1,3,10")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    limits: list[int | None] = [None, *(int(x) for x in args.limits.split(","))]
    results: dict[int | None, list[Row]] = {limit: [] for limit in limits}
    for _ in range(args.rounds):
        kafka = KafkaSettings(topic_prefix=f"bench-concurrency-{uuid.uuid4().hex[:6]}.", partitions=2)
        ensure_topics(kafka)
        settings = ExecutorSettings(poll_timeout=0.05)
        threads = InThreads(
            [Executor(kafka, settings), SlotKeeper(kafka, settings), Worker(kafka, WorkerSettings(poll_timeout=0.05))]
        )
        try:
            one(kafka, None, 20)  # warm-up: partitions assigned, flows parsed
            for limit in limits:
                results[limit].append(one(kafka, limit, args.count))
        finally:
            threads.close()
    load = os.getloadavg()
    print(f"flow concurrency, {args.count} one-task executions, medians of {args.rounds} rounds")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| limit | drain (s) | executions/s | hand-off p50 (ms) | hand-off p95 (ms) |")
    print("|---|---|---|---|---|")
    for limit, rows in results.items():
        drain, rate, p50, p95 = (statistics.median(column) for column in zip(*rows, strict=True))
        name = str(limit) if limit else "none"
        print(f"| {name} | {drain:.1f} | {rate:.1f} | {p50:.0f} | {p95:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
