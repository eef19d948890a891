"""Scale-out on the cluster: more workers on Sleep-bound tasks, more executors on one-task bursts.

    .venv/bin/python bench/scale_out.py                      # on 3 brokers of its own
    .venv/bin/python bench/scale_out.py --workers 1,2,4,8 --executors 1,2,3 --rounds 3 --partitions 24

Starts the 3-broker Kafka cluster (replication 3, min.insync.replicas 2) on loopback (`start_kafka_cluster`),
topics with `--partitions` partitions under a fresh prefix, then:
1. workers 1 -> 2 -> 4 -> 8 (one executor): bursts of `Sleep` tasks sized to last `--seconds` at the ideal
   rate (workers x concurrency / sleep); executions/s, its ratio to that ideal and to one worker's rate;
2. executors 1 -> 2 -> 3 (`--burst-workers` workers, `--burst-concurrency` each, so that they do not bound
   it): bursts of `--burst` one-task executions; executions/s and its ratio to the ideal (n x one executor's).
Each count runs `--rounds` bursts after a warm-up burst (the group rebalanced, the new process past its
imports); the table gives the median and the spread. Services are added between counts, never restarted.
No indexer and no Elasticsearch run (executors and workers never use it; six JVMs would leave the services
less of the two cores): what is measured is Kafka, the executors and the workers. Rates come
from the dates the executions record (first creation to last end). The load average (`uptime`) before each
count is printed: on a shared 2-core box the absolute figures are low and noisy; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from throughput import ONE, Bench, new_bench

from conveyor.common.loader import load_flow
from conveyor.common.servers.kafka_cluster import start_kafka_cluster

SLEEP_SECONDS = 0.5
SLEEPY = load_flow(
    "id: sleepy\nnamespace: bench\ntasks:\n"
    f"  - {{id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT{SLEEP_SECONDS}S}}\n"
)
# Nothing here reads or writes Elasticsearch (no indexer runs): the services are given an address nobody serves.
UNUSED_ES = "http://127.0.0.1:9"
Row = tuple[str, str, str, str, str, str]


def load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def settle(bench: Bench, timeout: float = 300.0) -> None:
    """One execution through a fresh set of topics, waiting as long as a loaded box needs (the first produce
    to new partitions, the first group join): the bursts' own 30 s flush is for a settled cluster."""
    (event,) = bench.created(ONE, 1)
    bench.send(event)
    bench.producer.flush(timeout)
    bench.wait([event.execution_id], timeout=timeout)


def rates(bench: Bench, flow: object, count: int, rounds: int) -> list[float]:
    """A warm-up burst of `count`, then `rounds` bursts: executions/s of each."""
    bench.wait(bench.burst(bench.created(flow, count)), timeout=600)
    return [bench.rate(flow, count)[1] for _ in range(rounds)]


def spread(values: list[float]) -> str:
    return f"{min(values):,.1f}-{max(values):,.1f}"


def add(bench: Bench, kind: str, count: int) -> None:
    """Start `kind` processes until there are `count` of them."""
    have = sum(1 for name in bench.procs if name.startswith(kind))
    for i in range(have, count):
        extra = {"CONVEYOR_WORKER_WORKER_ID": f"bench-worker-{i + 1}"} if kind == "worker" else {}
        bench.start(f"{kind}-{i + 1}", kind, extra)


def scale_workers(bench: Bench, counts: list[int], concurrency: int, seconds: float, rounds: int) -> list[Row]:
    rows: list[Row] = []
    base: float | None = None
    for count in counts:
        add(bench, "worker", count)
        before = load()
        ideal = count * concurrency / SLEEP_SECONDS
        measured = rates(bench, SLEEPY, max(int(ideal * seconds), count * concurrency), rounds)
        median = statistics.median(measured)
        base = base or median
        rows.append((f"{count} worker(s) x {concurrency}", f"{median:,.1f}", spread(measured),
                     f"{ideal:,.0f}", f"{median / ideal:.0%}; x{median / base:.2f} of 1 worker", before))  # fmt: skip
        print(" | ".join(rows[-1]), flush=True)
    return rows


def scale_executors(bench: Bench, counts: list[int], burst: int, rounds: int) -> list[Row]:
    rows: list[Row] = []
    base: float | None = None
    for count in counts:
        add(bench, "executor", count)
        before = load()
        measured = rates(bench, ONE, burst, rounds)
        median = statistics.median(measured)
        base = base or median
        rows.append((f"{count} executor(s)", f"{median:,.1f}", spread(measured), f"{count * base:,.0f}",
                     f"{median / (count * base):.0%}; x{median / base:.2f} of 1 executor", before))  # fmt: skip
        print(" | ".join(rows[-1]), flush=True)
    return rows


def table(title: str, rows: list[Row]) -> str:
    head = f"| {title} | executions/s (median) | spread | ideal | ratio | load 1/5/15 min before |"
    return "\n".join([head, "|---|---|---|---|---|---|", *(f"| {' | '.join(row)} |" for row in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts, in order")
    parser.add_argument("--executors", default="1,2,3", help="executor counts, in order")
    parser.add_argument("--partitions", type=int, default=24)
    parser.add_argument("--bootstrap", help="an existing Kafka instead of 3 brokers of its own (a quick try)")
    parser.add_argument("--concurrency", type=int, default=4, help="attempts one worker runs at once")
    parser.add_argument("--seconds", type=float, default=4.0, help="ideal length of each Sleep burst")
    parser.add_argument("--burst", type=int, default=600, help="one-task executions per executor burst")
    parser.add_argument("--burst-workers", type=int, default=2, help="workers during the executor runs")
    parser.add_argument("--burst-concurrency", type=int, default=64, help="a worker's attempts at once, executor runs")
    parser.add_argument("--rounds", type=int, default=3, help="bursts measured per count (after a warm-up)")
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",") if n]
    executors = [int(n) for n in args.executors.split(",") if n]
    base = Path(tempfile.mkdtemp(prefix="conveyor-bench-scale-"))
    started = time.monotonic()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {load()}; starting 3 Kafka brokers")
    kafka = None if args.bootstrap else start_kafka_cluster(base / "kafka")
    bootstrap: str = kafka.bootstrap if kafka is not None else args.bootstrap
    try:
        print(f"Kafka {bootstrap} up in {time.monotonic() - started:.0f} s; load {load()}", flush=True)
        sections = []
        if workers:
            bench = new_bench(bootstrap, UNUSED_ES, {}, args.partitions, args.concurrency, base / "logs-w")
            try:
                bench.start("executor-1", "executor")
                add(bench, "worker", 1)
                settle(bench)
                sections.append(table("Sleep tasks", scale_workers(bench, workers, args.concurrency, args.seconds,
                                                                   args.rounds)))  # fmt: skip
            finally:
                bench.close()
        if executors:
            bench = new_bench(bootstrap, UNUSED_ES, {}, args.partitions, args.burst_concurrency, base / "logs-e")
            try:
                add(bench, "worker", args.burst_workers)
                add(bench, "executor", 1)
                settle(bench)
                sections.append(table("one-task bursts", scale_executors(bench, executors, args.burst, args.rounds)))
            finally:
                bench.close()
        took = time.monotonic() - started
        print(f"\nScale-out on {'3 Kafka brokers' if kafka else bootstrap}, {args.partitions} partitions, "
              f"{args.rounds} rounds a count, {took:.0f} s in all; load now {load()}")  # fmt: skip
        print("\n\n".join(sections))
    finally:
        if kafka is not None:
            kafka.stop()


if __name__ == "__main__":
    main()
