"""Latency of a one-task execution by setting: where batches, transactions and fetch waits trade off.

    .venv/bin/python bench/latency.py                       # the default settings and the variants below
    .venv/bin/python bench/latency.py --settings "default;linger2=CONVEYOR_KAFKA_LINGER_MS=2" --rounds 3

First the servers are warmed (`--warm-seconds` of steady load, see `warm_servers`). Then each setting
(`--settings`: `name=ENV=VALUE,ENV=VALUE` separated by `;`, `default` alone for none) runs on fresh services
of its own (1 executor, `--workers` workers, 1 indexer, under a fresh topic prefix) with those environment
variables (the bench's own submitting producer too): after one warm-up burst, the created -> SUCCESS latency
of one-task executions submitted at an even rate, at light load (5/s) and at `--rate` (default: half the
one-task burst rate of the first setting's first round, measured here), then the median of each step (see
bench/throughput.py). The settings run in turn, `--rounds` times (the machine varies: compare within one
sitting); the table gives the medians over the rounds, one column per setting, and the
machine's load average. With `CONVEYOR_BENCH_LATENCY_DUMP=FILE`, every measured execution is appended to FILE
as a JSON line (rate, creation date, latency, steps), to see what a tail is made of. The submitter keeps
its even rate (what the watcher reads is decoded after the sending); the table gives how late its sends
were (p99): more than a few ms means the load came in bursts. Each setting's topics and indices are deleted
after it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families
from throughput import ONE, STEPS, Bench, drop, new_bench, servers, warm_up

from conveyor.common.gctune import tune_gc

DEFAULT_SETTINGS = (
    "default;"
    "fetch10=CONVEYOR_KAFKA_FETCH_WAIT_MS=10;"
    "linger2=CONVEYOR_KAFKA_LINGER_MS=2;"
    "batch50=CONVEYOR_EXECUTOR_BATCH_SIZE=50;"
    "no-transactions=CONVEYOR_EXECUTOR_TRANSACTIONS=false"
)
Measures = dict[str, float]


def parse(text: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        name, _, assignments = part.partition("=")
        env = dict(a.split("=", 1) for a in assignments.split(",") if a)
        out.append((name, env))
    return out


# What the executor's metrics tell of its hop: the events it consumed per transaction, and the mean commit.
EXECUTOR = ("executor: events per commit", "executor: commit ms (mean)")
# The rate of the servers' warm-up (executions/s): well below any box's peak, so that it never builds a backlog.
WARM_RATE = 400.0
# How late the bench's sends were behind the even rate (p99): above a few ms, the load was not even.
LATE = "submitter: late p99"


def executor_counters(port: int) -> tuple[float, float, float]:
    """(events consumed, commits, seconds committing) so far, from the executor's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    events = commits = seconds = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "conveyor_messages_consumed_total":
                events += sample.value
            elif sample.labels.get("operation") == "commit" and sample.name.endswith("_count"):
                commits += sample.value
            elif sample.labels.get("operation") == "commit" and sample.name.endswith("_sum"):
                seconds += sample.value
    return events, commits, seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(bench: Bench, count: int, rate: float, port: int) -> Measures:
    """p50 and p99 (ms) of creation -> SUCCESS at `rate`, the median of each step, and the executor's
    events per commit and mean commit time over the run."""
    before = executor_counters(port)
    finals = bench.wait(bench.steady(bench.created(ONE, count), rate))
    events, commits, seconds = (b - a for a, b in zip(before, executor_counters(port), strict=True))
    latencies = sorted((f["ended"] - f["created"]) * 1000 for f in finals)
    dump = os.environ.get("CONVEYOR_BENCH_LATENCY_DUMP")
    if dump:  # each execution's creation date, latency and steps: what a tail is made of
        with open(dump, "a") as lines:
            for f in finals:
                row = {"rate": rate, "created": f["created"], "ms": (f["ended"] - f["created"]) * 1000}
                lines.write(json.dumps({**row, "steps": [s * 1000 for s in f["steps"]]}) + "\n")
    out = {"p50": statistics.median(latencies), "p99": _p99(latencies)}
    out[LATE] = _p99(sorted(bench.late)) * 1000  # the bench's own lag behind the even rate: a late send is a burst
    for i, step in enumerate(STEPS):
        out[step] = statistics.median(f["steps"][i] for f in finals) * 1000
    out[EXECUTOR[0]] = events / max(commits, 1)
    out[EXECUTOR[1]] = seconds * 1000 / max(commits, 1)
    return out


def started(stack: ExitStack, args: argparse.Namespace, env: dict[str, str], port: int) -> Bench:
    """A bench under a fresh prefix, its services started with `env` (the executor's metrics on `port`) and
    warmed by one burst; `stack` stops them and deletes its topics and indices (a broker and a cluster left
    with hundreds of them made each setting of a sitting slower than the one before: 2026-12-06, p50 at
    900/s 100 -> 600 ms in 25 runs)."""
    bootstrap, es_url = os.environ["CONVEYOR_KAFKA_BOOTSTRAP"], os.environ["CONVEYOR_ELASTICSEARCH_URL"]
    bench = new_bench(bootstrap, es_url, {}, args.partitions, args.concurrency)
    stack.callback(drop, bench)
    stack.callback(bench.close)
    bench.env.update(env)
    bench.start("executor-1", "executor", {"CONVEYOR_METRICS_PORT": str(port)})
    bench.start("indexer", "indexer")
    bench.workers(args.workers)
    warm_up(bench, 1)
    return bench


def one_setting(args: argparse.Namespace, env: dict[str, str], rate: float | None) -> tuple[Measures, Measures, float]:
    """Light-load and loaded measures of one setting on fresh services, and the loaded rate used."""
    with ExitStack() as stack:
        stack.callback(_restore, dict(os.environ))
        os.environ.update(env)  # the submitter too (its producer's settings), as a user's CLI would have them
        port = free_port()
        bench = started(stack, args, env, port)
        if rate is None:
            _, executions_per_s, _ = bench.rate(ONE, args.executions)
            rate = executions_per_s / 2
        light = measure(bench, args.light_count, 5.0, port)
        loaded = measure(bench, max(int(rate * args.loaded_seconds), 50), rate, port)
        return light, loaded, rate


def warm_servers(args: argparse.Namespace) -> None:
    """A steady load of one-task executions for `--warm-seconds`, on services of their own, before any
    measure: a Kafka or an Elasticsearch started minutes ago spends several times the CPU per message of one
    that ran a while (their JIT compilers; 2026-12-06, fresh servers at 900/s: p50 516 ms in the first run,
    130 ms in the fourth), and a broker of a real cluster has run for days."""
    if args.warm_seconds <= 0:
        return
    with ExitStack() as stack:
        bench = started(stack, args, {}, free_port())
        bench.wait(bench.steady(bench.created(ONE, int(WARM_RATE * args.warm_seconds)), WARM_RATE))
    print(f"  servers warmed: {args.warm_seconds:.0f} s at {WARM_RATE:.0f}/s", flush=True)


def _p99(ordered: list[float]) -> float:
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def _restore(saved: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(saved)


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def run(args: argparse.Namespace) -> None:
    settings = parse(args.settings)
    results: dict[str, list[tuple[Measures, Measures]]] = {name: [] for name, _ in settings}
    loads: list[str] = []
    rate: float | None = args.rate
    with ExitStack() as stack:
        bootstrap, es_url, _ = servers(stack, False)
        os.environ.update(CONVEYOR_KAFKA_BOOTSTRAP=bootstrap, CONVEYOR_ELASTICSEARCH_URL=es_url)
        warm_servers(args)
        for round_ in range(args.rounds):
            for name, env in settings:
                loads.append(load_average())
                light, loaded, rate = one_setting(args, env, rate)
                results[name].append((light, loaded))
                print(
                    f"  round {round_ + 1} {name}: light {light['p50']:.1f}/{light['p99']:.1f} ms, "
                    f"at {rate:.0f}/s {loaded['p50']:.1f}/{loaded['p99']:.1f} ms",
                    flush=True,
                )
    assert rate is not None
    print_table(args, settings, results, rate, loads)


def _median(values: list[Measures], key: str) -> str:
    return f"{statistics.median(v[key] for v in values):.1f}"


def print_table(
    args: argparse.Namespace,
    settings: list[tuple[str, dict[str, str]]],
    results: dict[str, list[tuple[Measures, Measures]]],
    rate: float,
    loads: list[str],
) -> None:
    names = [name for name, _ in settings]
    print(
        f"\nLatency by setting, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{args.workers} worker(s) x {args.concurrency}, {args.partitions} partitions, medians of "
        f"{args.rounds} round(s); load average before each run: {', '.join(loads)}"
    )
    for name, env in settings:
        print(f"  {name}: {', '.join(f'{k}={v}' for k, v in env.items()) or 'the defaults'}")
    print("\n| measure (ms) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label, index in (("5/s", 0), (f"{rate:.0f}/s", 1)):
        for key in ("p50", "p99", *STEPS, *EXECUTOR, LATE):
            prefix = f"{label} step: {key}" if key in STEPS else f"{label} {key}"
            cells = [_median([r[index] for r in results[n]], key) for n in names]
            print(f"| {prefix} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default=DEFAULT_SETTINGS, help="name=ENV=VALUE,...;... (default: see above)")
    parser.add_argument("--rounds", type=int, default=3, help="times each setting runs (medians)")
    parser.add_argument("--rate", type=float, help="the loaded rate (executions/s); default: half the burst rate")
    parser.add_argument("--executions", type=int, default=2000, help="one-task executions of the burst")
    parser.add_argument("--light-count", type=int, default=50, help="executions at 5/s")
    parser.add_argument("--loaded-seconds", type=float, default=5.0, help="length of the loaded run")
    parser.add_argument(
        "--warm-seconds", type=float, default=120.0, help="steady load before measuring (0: none; see warm_servers)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="attempts one worker runs at once")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the bench topics")
    args = parser.parse_args()
    tune_gc()  # as the services: the bench's own collector pauses would make bursts of an even rate
    run(args)


if __name__ == "__main__":
    main()
