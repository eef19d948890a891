"""Conveyor's throughput and latency benchmark: the numbers docs/benchmarks.md quotes.

    .venv/bin/python bench/throughput.py --workers 2            # on CONVEYOR_KAFKA_BOOTSTRAP/_ELASTICSEARCH_URL
    .venv/bin/python bench/throughput.py --workers 2 --local    # on fresh servers of its own

It starts one executor, N workers and one indexer as processes under a fresh topic and index prefix, then:
1. sustained task runs/s for one-task and ten-task flows (a burst of executions, all submitted at once);
2. latency from creation to SUCCESS of a one-task execution (p50, p99) at light load (5/s) and at half the
   one-task peak, submitted at a steady rate (open loop);
3. worker scaling 1 -> 2 -> 4 workers on Sleep-bound tasks, as a ratio to the ideal (workers x concurrency
   / sleep);
4. the indexer: documents/s while the one-task burst is indexed, and its lag behind the last execution.

Rates and latencies come from the dates the system records (the execution's CREATED and end dates, stamped
by the submitter and the executor on this one machine), not from the watcher's own clock. Everything
(Kafka, Elasticsearch, the services and this load generator) shares the machine: that is what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conveyor.common.clock import utcnow  # noqa: E402
from conveyor.common.elastic import elasticsearch_client  # noqa: E402
from conveyor.common.events import FLOW_HEADER, ExecutionCreated  # noqa: E402
from conveyor.common.kafka.admin import admin_client, ensure_topics  # noqa: E402
from conveyor.common.kafka.consumer import Consumer  # noqa: E402
from conveyor.common.kafka.lookup import EXECUTION_HEADER  # noqa: E402
from conveyor.common.kafka.producer import Producer  # noqa: E402
from conveyor.common.kafka.topics import Topics  # noqa: E402
from conveyor.common.launch import new_execution  # noqa: E402
from conveyor.common.loader import load_flow  # noqa: E402
from conveyor.common.servers.process import die_with_parent  # noqa: E402
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings  # noqa: E402
from conveyor.common.shutdown import PARENT_DEATH_SIGNAL  # noqa: E402

ONE = load_flow("id: one\nnamespace: bench\ntasks:\n  - {id: t, type: io.kestra.plugin.core.debug.Return, format: x}\n")
TEN = load_flow(
    "id: ten\nnamespace: bench\ntasks:\n"
    + "".join(f"  - {{id: t{i}, type: io.kestra.plugin.core.debug.Return, format: x}}\n" for i in range(10))
)
SLEEP_SECONDS = 0.5
SLEEPY = load_flow(
    "id: sleepy\nnamespace: bench\ntasks:\n"
    f"  - {{id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT{SLEEP_SECONDS}S}}\n"
)


def parse_date(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


STEPS = ("submitted -> executor", "executor -> worker", "run", "worker -> executor")


def steps(snapshot: dict[str, Any], run: dict[str, Any] | None) -> tuple[float, ...]:
    """Where a one-task execution's time went, from its recorded dates (seconds): created -> RUNNING (the
    executor took the creation), task run CREATED -> attempt RUNNING (the job reached a worker), the attempt
    itself, attempt end -> execution end (the result reached the executor)."""
    execution = [parse_date(h["date"]) for h in snapshot["state"]["histories"]]
    if run is None and len(snapshot.get("taskRunList") or []) == 1:  # a whole snapshot (before per-task-run state)
        run = snapshot["taskRunList"][0]
    if run is None or len(execution) < 3:
        return (0.0,) * len(STEPS)
    attempt = [parse_date(h["date"]) for h in run["attempts"][-1]["state"]["histories"]] if run.get("attempts") else []
    if len(attempt) < 2:  # the run's last change not read yet (the two topics are read independently)
        return (0.0,) * len(STEPS)
    created = parse_date(run["state"]["histories"][0]["date"])
    return (execution[1] - execution[0], attempt[1] - created, attempt[-1] - attempt[1], execution[-1] - attempt[-1])


class Bench:
    def __init__(self, kafka: KafkaSettings, es: ElasticsearchSettings, logs: Path, concurrency: int) -> None:
        self.kafka, self.es, self.logs, self.concurrency = kafka, es, logs, concurrency
        self.topics = Topics.of(kafka)
        self.env = {
            **os.environ,
            "CONVEYOR_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "CONVEYOR_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
            "CONVEYOR_KAFKA_PARTITIONS": str(kafka.partitions),
            "CONVEYOR_ELASTICSEARCH_URL": es.url,
            "CONVEYOR_ELASTICSEARCH_INDEX_PREFIX": es.index_prefix,
            "CONVEYOR_WORKER_CONCURRENCY": str(concurrency),
            "CONVEYOR_LOG_LEVEL": "WARNING",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # Process groups of the bench's own servers (--local): their CPU is told apart from other users'.
        self.server_groups: dict[int, str] = {}
        self.producer = Producer(kafka)
        self.ended: dict[str, dict[str, Any]] = {}  # execution id -> final snapshot (id, state)
        # The final headers, and the task runs (the latest of each one-task execution's, for `steps`).
        # It fetches as the indexer does (the broker gathers up to 256 KB for up to 200 ms), not once per record:
        # it reads the dates the system recorded, so when it sees a record does not enter any figure, and a
        # fetch per record made the bench's watcher one of the broker's busiest clients.
        # CONVEYOR_BENCH_WATCH_FETCH_BYTES=1 brings back the per-record fetches (to compare).
        watch = {
            "fetch.min.bytes": int(os.environ.get("CONVEYOR_BENCH_WATCH_FETCH_BYTES", 256 * 1024)),
            "fetch.wait.max.ms": 200,
        }
        self._final = Consumer(
            kafka, f"bench-{uuid.uuid4().hex}", [self.topics.executions, self.topics.taskruns], extra=watch
        )
        self._last_run: dict[str, bytes] = {}  # execution id -> its latest task-run change, undecoded
        self._raw: list[Any] = []  # what the watcher read while sending, not decoded yet
        self.late: list[float] = []  # how late (s) each send of the last `steady` was

    # ---- processes
    def start(self, name: str, command: str, env: dict[str, str] | None = None) -> None:
        with (self.logs / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "conveyor.cli.main", command],
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                preexec_fn=die_with_parent(PARENT_DEATH_SIGNAL),  # a killed bench leaves no service behind
            )

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def workers(self, count: int) -> None:
        for name in [n for n in self.procs if n.startswith("worker")]:
            self.stop(name)
        for i in range(count):
            self.start(f"worker-{i + 1}", "worker", {"CONVEYOR_WORKER_WORKER_ID": f"bench-worker-{i + 1}"})

    # ---- load
    def created(self, flow: Any, count: int) -> list[ExecutionCreated]:
        return [new_execution(flow) for _ in range(count)]

    def send(self, event: ExecutionCreated) -> None:
        # stamp the creation now: latency counts from the moment it is handed to Kafka
        event.execution.state.histories[0].date = utcnow()
        self.producer.send(self.topics.execution_events, event.execution_id, event.to_json())

    def burst(self, events: list[ExecutionCreated]) -> list[str]:
        for event in events:
            self.send(event)
        self.producer.flush()
        return [e.execution_id for e in events]

    def steady(self, events: list[ExecutionCreated], rate: float) -> list[str]:
        started = time.monotonic()
        self.late = []  # how late each send was: the even rate is the bench's, a late send makes a burst
        for i, event in enumerate(events):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.late.append(max(-delay, 0.0))
            self.send(event)
            self.producer.poll(0)
            self._raw.extend(self._final.consume(5000, 0))  # read now, decoded after: the sending stays even
        self.producer.flush()
        return [e.execution_id for e in events]

    def read_final(self, timeout: float) -> None:
        raw, self._raw = self._raw, []
        for msg in [*raw, *self._final.consume(5000, timeout)]:
            headers = dict(msg.headers)
            if msg.topic == self.topics.taskruns:  # kept as read, decoded only for the steps (`wait`)
                self._last_run[(headers.get(EXECUTION_HEADER) or b"").decode()] = msg.value or b"{}"
                continue
            if FLOW_HEADER not in headers:  # only the final snapshot carries the pinned flow
                continue
            snapshot = json.loads(msg.value or b"")
            histories = snapshot["state"]["histories"]
            self.ended[snapshot["id"]] = {
                "state": snapshot["state"]["current"],
                "created": parse_date(histories[0]["date"]),
                "ended": parse_date(histories[-1]["date"]),
                # taskRunCount on the header (since the per-task-run state), taskRunList before it
                "runs": snapshot.get("taskRunCount") or len(snapshot.get("taskRunList") or []),
                "snapshot": snapshot,
            }

    def wait(self, ids: list[str], timeout: float = 600.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while any(i not in self.ended for i in ids):
            if time.monotonic() > deadline:
                missing = sum(1 for i in ids if i not in self.ended)
                raise SystemExit(f"{missing} of {len(ids)} executions did not end in {timeout:.0f}s; see {self.logs}")
            self.read_final(0.2)
        # A final header can be read before its execution's last task-run change (two topics): read on a
        # little for the steps (see `steps`), then forget the task runs.
        settle = time.monotonic() + 2.0
        while any(i not in self._last_run for i in ids) and time.monotonic() < settle:
            self.read_final(0.1)
        for i in ids:
            final = self.ended[i]
            if "snapshot" in final:
                run = self._last_run.pop(i, None)
                final["steps"] = steps(final.pop("snapshot"), json.loads(run).get("taskRun") if run else None)
        finals = [self.ended[i] for i in ids]
        bad = [f for f in finals if f["state"] != "SUCCESS"]
        if bad:
            raise SystemExit(f"{len(bad)} executions did not succeed: {bad[:3]}")
        return finals

    # ---- measurements
    def rate(self, flow: Any, count: int) -> tuple[float, float, list[dict[str, Any]]]:
        """Task runs/s and executions/s of a burst, from the first creation to the last end."""
        ids = self.burst(self.created(flow, count))
        finals = self.wait(ids)
        span = max(f["ended"] for f in finals) - min(f["created"] for f in finals)
        runs = sum(f["runs"] for f in finals)
        return runs / span, count / span, finals

    def latency(self, count: int, rate: float) -> tuple[str, str]:
        """p50 / p99 of creation -> SUCCESS, and the median of each step (see `steps`)."""
        ids = self.steady(self.created(ONE, count), rate)
        finals = self.wait(ids)
        latencies = sorted((f["ended"] - f["created"]) * 1000 for f in finals)
        p50, p99 = statistics.median(latencies), latencies[max(0, int(len(latencies) * 0.99) - 1)]
        medians = [statistics.median(f["steps"][i] for f in finals) * 1000 for i in range(len(STEPS))]
        return f"{p50:.0f} ms / {p99:.0f} ms", ", ".join(f"{n} {m:.1f}" for n, m in zip(STEPS, medians, strict=True))

    def index_watch(self, expected: int, timeout: float = 300.0) -> tuple[float, float]:
        """Polls the task-run index until it holds `expected` documents: (docs/s, seconds to the last)."""
        client = elasticsearch_client(self.es)
        index = f"{self.es.index_prefix}-taskruns"
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + timeout
        count = 0
        try:
            while time.monotonic() < deadline:
                try:
                    count = int(client.count(index=index, query={"term": {"state.current": "SUCCESS"}})["count"])
                except Exception:  # the index appears with the first document
                    count = 0
                now = time.monotonic()
                if first is None and count:
                    first = (now, count)
                if count >= expected:
                    break
                time.sleep(0.1)
        finally:
            client.close()
        if first is None or count < expected:
            return 0.0, float("nan")
        elapsed = max(time.monotonic() - first[0], 1e-3)
        return (count - first[1]) / elapsed, time.time()

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each service, the servers and this load generator.
        Servers not started by the bench are found by their command line: any other use of them counts too."""
        tick = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {"load generator": sum(os.times()[:2])}
        names = {proc.pid: name.split("-")[0] for name, proc in self.procs.items()}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid = int(stat.parent.name)
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue  # ended meanwhile
            name = names.get(pid) or self.server_groups.get(int(fields[2]))
            if name is None and self.server_groups:
                continue
            if name is None and b"kafka.Kafka" in cmdline:
                name = "Kafka"
            elif name is None and b"org.elasticsearch" in cmdline:
                name = "Elasticsearch"
            if name is not None:
                used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return used

    def profile(self, folder: Path, seconds: int) -> None:
        """py-spy (collapsed stacks) of every service during the one-task burst that follows."""
        folder.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).with_name("py-spy")
        for name, proc in self.procs.items():
            out = folder / f"{name}.txt"
            cmd = [str(spy), "record", "-p", str(proc.pid), "-d", str(seconds), "-f", "raw", "-o", str(out), "-n"]
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        self._final.close()
        self.producer.flush()
        del self.producer  # its client ends now, not at exit after the servers it talks to were stopped


def drop(bench: Bench) -> None:
    """The prefix's topics and indices: a large case leaves gigabytes the next cases need not carry."""
    admin = admin_client(bench.kafka)
    topics = [n for n in admin.list_topics(timeout=30).topics if n.startswith(bench.kafka.topic_prefix)]
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        try:
            future.result()
        except Exception as exc:  # cleanup only
            print(f"  (could not delete a topic: {exc})", file=sys.stderr)
    client = elasticsearch_client(bench.es)
    try:
        indices = list(client.indices.get(index=f"{bench.es.index_prefix}-*", expand_wildcards="all"))
        if indices:
            client.indices.delete(index=",".join(indices))
    except Exception as exc:  # cleanup only
        print(f"  (could not delete the indices: {exc})", file=sys.stderr)
    finally:
        client.close()


def servers(stack: ExitStack, local: bool) -> tuple[str, str, dict[int, str]]:
    """Kafka bootstrap, Elasticsearch URL and the process groups of the servers the bench started: the ones
    CONVEYOR_KAFKA_BOOTSTRAP/_ELASTICSEARCH_URL name, else (or with `local`) fresh ones stopped with `stack`."""
    bootstrap = os.environ.get("CONVEYOR_KAFKA_BOOTSTRAP")
    es_url = os.environ.get("CONVEYOR_ELASTICSEARCH_URL")
    if local or not bootstrap or not es_url:
        from conveyor.common.servers import start_local_servers

        kafka_server, es_server = start_local_servers()
        stack.callback(kafka_server.stop)
        stack.callback(es_server.stop)
        return kafka_server.bootstrap, es_server.url, {kafka_server.pid: "Kafka", es_server.pid: "Elasticsearch"}
    return bootstrap, es_url, {}


def new_bench(
    bootstrap: str, es_url: str, groups: dict[int, str], partitions: int, concurrency: int, logs: Path | None = None
) -> Bench:
    """A `Bench` under a fresh topic and index prefix (its topics created), its services not started yet."""
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"{prefix}.", partitions=partitions)
    es = ElasticsearchSettings(url=es_url, index_prefix=prefix)
    ensure_topics(kafka)
    logs = logs or Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    bench = Bench(kafka, es, logs, concurrency)
    bench.server_groups = groups
    return bench


def warm_up(bench: Bench, bursts: int) -> int:
    """Groups joined, code loaded, and the servers' JVMs past their JIT compilation (a fresh Kafka or
    Elasticsearch spends several times more CPU per message in its first seconds): `bursts` one-task bursts
    of 1,000, then the indexer let catch up (its backlog is not measured). Returns the documents indexed."""
    for _ in range(bursts):
        bench.wait(bench.burst(bench.created(ONE, 1000)), timeout=300)
    bench.index_watch(1000 * bursts)
    return 1000 * bursts


def one_task_burst(bench: Bench, executions: int, indexed: int) -> tuple[list[tuple[str, str]], float, float, float]:
    """The one-task burst: its rows (task runs/s, CPU per execution by process), executions/s, the indexer's
    documents/s and its lag behind the burst's last execution end (s). `indexed`: documents indexed before."""
    cpu_before = bench.cpu()
    one_rate, one_exec_rate, finals = bench.rate(ONE, executions)
    last_end = max(f["ended"] for f in finals)
    docs_rate, indexed_at = bench.index_watch(indexed + executions)
    cpu_after = bench.cpu()  # after the indexer caught up: the whole cost of the burst
    cpu = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
    rows = [
        (f"one-task flow: task runs/s (burst of {executions})", f"{one_rate:,.0f}"),
        ("CPU ms per one-task execution (burst) by process", _split(cpu, 1000 / executions)),
    ]
    return rows, one_exec_rate, docs_rate, indexed_at - last_end


def ten_task_burst(bench: Bench, executions: int) -> tuple[str, str]:
    """The ten-task burst of max(executions / 5, 20) executions: its row (task runs/s)."""
    count = max(executions // 5, 20)
    ten_rate, _, _ = bench.rate(TEN, count)
    return (f"ten-task flow: task runs/s (burst of {count})", f"{ten_rate:,.0f}")


def run(args: argparse.Namespace) -> None:
    if args.warmup_bursts is None:
        args.warmup_bursts = 40 if args.local else 3
    with ExitStack() as stack:
        bootstrap, es_url, groups = servers(stack, args.local)
        bench = new_bench(bootstrap, es_url, groups, args.partitions, args.concurrency)
        logs = bench.logs
        stack.callback(bench.close)
        for i in range(args.executors):
            bench.start(f"executor-{i + 1}", "executor")
        bench.start("indexer", "indexer")
        bench.workers(args.workers)
        rows: list[tuple[str, str]] = []

        indexed = warm_up(bench, args.warmup_bursts)
        if args.profile:
            bench.profile(Path(args.profile), seconds=20)
        burst_rows, one_exec_rate, docs_rate, lag = one_task_burst(bench, args.executions, indexed)
        rows += burst_rows
        if args.burst_only:
            _print(args, logs, rows)
            return
        rows.append(ten_task_burst(bench, args.executions))
        light, light_steps = bench.latency(args.latency_count, 5.0)
        rows.append(("latency created -> SUCCESS, light load (5/s): p50 / p99", light))
        rows.append(("  median of each step, ms", light_steps))
        half = one_exec_rate / 2
        cpu_before, started = bench.cpu(), time.monotonic()
        loaded, loaded_steps = bench.latency(max(int(half * args.half_load_seconds), 50), half)
        cores = {k: v - cpu_before.get(k, 0.0) for k, v in bench.cpu().items()}
        elapsed = time.monotonic() - started
        rows.append((f"latency at 50% of peak ({half:,.0f}/s): p50 / p99", loaded))
        rows.append(("  median of each step, ms", loaded_steps))
        rows.append(("cores busy during the 50% run, by process", _split(cores, 1 / elapsed)))
        rows.append(("indexer: task-run documents/s (one-task burst)", f"{docs_rate:,.0f}"))
        rows.append(("indexer: lag behind the burst's last execution end", f"{lag:.1f} s"))

        ideal_base = None
        for count in (1, 2, 4):
            bench.workers(count)
            ideal = count * args.concurrency / SLEEP_SECONDS
            executions = int(ideal * args.scaling_seconds)
            bench.wait(bench.burst(bench.created(SLEEPY, count * args.concurrency)), timeout=120)  # warm-up
            _, exec_rate, _ = bench.rate(SLEEPY, executions)
            ideal_base = ideal_base or exec_rate
            rows.append(
                (
                    f"Sleep {SLEEP_SECONDS}s tasks, {count} worker(s) x {args.concurrency}: executions/s",
                    f"{exec_rate:,.1f} ({exec_rate / ideal:.0%} of ideal {ideal:.0f}; x{exec_rate / ideal_base:.2f})",
                )
            )
        _print(args, logs, rows)


def _split(used: dict[str, float], scale: float) -> str:
    """`total: name value, ...` with each value scaled, largest first."""
    parts = ", ".join(f"{k} {v * scale:.2f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]))
    return f"{sum(used.values()) * scale:.2f}: {parts}"


def _print(args: argparse.Namespace, logs: Path, rows: list[tuple[str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(
        f"\nConveyor benchmark: {args.executors} executor(s), {args.workers} worker(s) x {args.concurrency}, "
        f"{args.partitions} partitions, logs in {logs}"
    )
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the throughput runs")
    parser.add_argument("--executors", type=int, default=1, help="executor processes")
    parser.add_argument("--concurrency", type=int, default=8, help="attempts one worker runs at once")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the bench topics")
    parser.add_argument("--executions", type=int, default=3000, help="one-task executions in the burst")
    parser.add_argument("--latency-count", type=int, default=150, help="executions at light load")
    parser.add_argument("--half-load-seconds", type=float, default=10.0, help="length of the 50%% load run")
    parser.add_argument("--scaling-seconds", type=float, default=6.0, help="ideal length of each scaling run")
    parser.add_argument(
        "--warmup-bursts",
        type=int,
        help="one-task bursts of 1,000 run first (default 3; 40 with --local: fresh JVMs need about three minutes"
        " of load before Kafka and Elasticsearch spend per message what they do on servers that have run a while)",
    )
    parser.add_argument("--burst-only", action="store_true", help="measure the one-task burst only")
    parser.add_argument("--local", action="store_true", help="start fresh Kafka and Elasticsearch servers")
    parser.add_argument("--profile", metavar="DIR", help="py-spy every service during the one-task burst")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
