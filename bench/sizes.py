"""Executions of any size: how one execution's cost grows with its number of task runs.

    .venv/bin/python bench/sizes.py                                   # every case, shared or local servers
    .venv/bin/python bench/sizes.py --sizes 100,1000,1000c10,100x100 --timeout 300 --local

Cases (`--sizes`, comma-separated): `N` is a ForEach over N values with `concurrencyLimit: 0`, each iteration
one `io.kestra.plugin.core.debug.Return`; `NcL` the same with `concurrencyLimit: L`; `AxB` a ForEach of A
values whose iteration is a ForEach of B values (both unlimited) of one Return. The values are rendered from
an expression (`{{ range(N) | list }}`), so the flow stays a few hundred bytes at any N and the records below
measure the execution, not its flow.

Each case runs alone, on fresh services (1 executor, `--workers` workers, 1 indexer) under a topic and index
prefix of its own, after 20 one-task executions (groups joined, code loaded). For each case:
- wall time: the execution's CREATED date to its end date, as the system records them;
- task runs/s: the task runs ended (their last change on the taskruns topic is terminal) over the wall time;
- executor CPU µs per task run: user + system time of the executor process (/proc/<pid>/stat), read just
  before the execution is submitted and when it ends;
- executor peak RSS: VmHWM (/proc/<pid>/status) of that fresh executor process, and in brackets how far it
  rose over its VmRSS just before the submission;
- largest record: the largest key + value of the records written, from the submission to the end, to the
  topics the executor writes (executor-state, executions, taskruns, worker-jobs, execution-events, logs;
  workers and this bench write to some of them too), and its topic.
A case that does not end within `--timeout` prints "timeout after X s" and the task runs ended by then (from
the taskruns topic); its services are stopped and the bench goes on. Then the one-task and ten-task bursts of
bench/throughput.py run on fresh services of their own, so that a regression of small executions shows too.
The bench drives the system only through Kafka topics and /proc; it knows nothing of the executor's code.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from confluent_kafka import Consumer as _Consumer
from confluent_kafka import KafkaError, TopicPartition
from throughput import ONE, ROOT, Bench, drop, new_bench, one_task_burst, servers, ten_task_burst, warm_up

from conveyor.common.flow import Flow
from conveyor.common.kafka.consumer import watermarks
from conveyor.common.kafka.topics import EXECUTION_EVENTS, EXECUTIONS, EXECUTOR_STATE, LOGS, TASKRUNS, WORKER_JOBS
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import TERMINAL

SCANNED = (EXECUTOR_STATE, EXECUTIONS, TASKRUNS, WORKER_JOBS, EXECUTION_EVENTS, LOGS)
DEFAULT_SIZES = "100,1000,10000,100000,1000c10,100x100"
DONE = frozenset(s.value for s in TERMINAL)


@dataclass(frozen=True)
class Case:
    name: str
    flow: Flow
    expected: int  # task runs of the execution once it ended


def _foreach(task_id: str, count: int, limit: int, body: str, indent: str) -> str:
    return (
        f"{indent}- id: {task_id}\n"
        f"{indent}  type: io.kestra.plugin.core.flow.ForEach\n"
        f"{indent}  concurrencyLimit: {limit}\n"
        f'{indent}  values: "{{{{ range({count}) | list }}}}"\n'
        f"{indent}  tasks:\n{body}"
    )


def _return(indent: str, fmt: str) -> str:
    return f'{indent}- {{id: r, type: io.kestra.plugin.core.debug.Return, format: "{fmt}"}}\n'


def case(spec: str) -> Case:
    """`N`, `NcL` or `AxB` (see the module's help) as a flow and the task runs it makes: the ForEach's own
    task run, plus one per inner ForEach iteration and one per Return."""
    header = "namespace: bench\ntasks:\n"
    if m := re.fullmatch(r"(\d+)(?:c(\d+))?", spec):
        n, limit = int(m[1]), int(m[2] or 0)
        body = _foreach("each", n, limit, _return("      ", "{{ taskrun.value }}"), "  ")
        name = f"ForEach {n:,}" + (f", concurrencyLimit {limit}" if limit else "")
        return Case(name, load_flow(f"id: size-{spec}\n{header}{body}"), 1 + n)
    if m := re.fullmatch(r"(\d+)x(\d+)", spec):
        a, b = int(m[1]), int(m[2])
        inner = _foreach(
            "inner", b, 0, _return("          ", "{{ parent.taskrun.value }}-{{ taskrun.value }}"), "      "
        )
        body = _foreach("outer", a, 0, inner, "  ")
        return Case(f"ForEach {a:,} x ForEach {b:,}", load_flow(f"id: size-{spec}\n{header}{body}"), 1 + a + a * b)
    raise argparse.ArgumentTypeError(f"not a case: {spec!r} (N, NcL or AxB)")


# ---- /proc of the executor


def executor_pid(bench: Bench, name: str) -> int:
    """The pid of the executor the bench started, checked: that process runs `conveyor.cli.main executor`
    itself (Popen without a shell) and has no child processes whose CPU or memory would be missed."""
    pid = bench.procs[name].pid
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    if cmdline[1:4] != [b"-m", b"conveyor.cli.main", b"executor"]:
        raise SystemExit(f"pid {pid} is not the executor: {cmdline!r}")
    children = [c for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    if children:
        raise SystemExit(f"the executor (pid {pid}) has child processes {children}: its /proc counters miss them")
    return int(pid)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def mappings_kib(pid: int) -> dict[str, int]:
    """Resident KiB of the process by kind of mapping (/proc/<pid>/smaps): `[heap]` (glibc's main arena: the
    objects over 512 B CPython asks malloc for, such as the task runs' JSON, and dict tables), anonymous
    (CPython's small-object arenas, the other threads' malloc arenas: librdkafka's queues and buffers), and
    files (code, shared libraries)."""
    out = {"[heap]": 0, "anonymous": 0, "files": 0}
    kind = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 1)[0]
        if "-" in head and not head.endswith(":"):  # a mapping's first line: range perms offset dev inode [path]
            parts = line.split()
            path = parts[5] if len(parts) > 5 else ""
            kind = "[heap]" if path == "[heap]" else "files" if path.startswith("/") else "anonymous"
        elif head == "Rss:":
            out[kind] += int(line.split()[1])
    return out


class MemoryWatch:
    """The executor's RSS sampled while a case runs, and its mappings at the highest sample."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self.at_peak: dict[str, int] = {}

    def sample(self) -> None:
        rss = memory_kib(self.pid)["VmRSS"]
        if rss > self.peak:
            self.peak, self.at_peak = rss, mappings_kib(self.pid)

    def text(self) -> str:
        parts = ", ".join(f"{k} {v / 1024:,.0f}" for k, v in self.at_peak.items())
        return f"at the highest sample, VmRSS {self.peak / 1024:,.0f} MiB: {parts}"


# ---- Kafka records


class RecordScan:
    """The records written to `SCANNED` topics from its creation to `finish()`: the largest (key + value)
    and the task runs whose last change on the taskruns topic is terminal."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.consumer = _Consumer(
            {
                **kafka.client_config(),
                "group.id": f"bench-scan-{uuid.uuid4().hex}",  # required by the client; no group is joined
                "enable.auto.commit": False,
                "isolation.level": "read_uncommitted",  # aborted records were written too
            }
        )
        self.topics = [kafka.topic_prefix + t for t in SCANNED]
        self.start = self._ends()

    def _ends(self) -> dict[tuple[str, int], int]:
        ends = {}
        for topic in self.topics:
            metadata = self.consumer.list_topics(topic, timeout=30).topics[topic]
            for partition in metadata.partitions:
                ends[(topic, partition)] = watermarks(self.consumer, TopicPartition(topic, partition), 30)[1]
        return ends

    def finish(self) -> tuple[int, str, int]:
        """(largest record in bytes, its topic, task runs ended)."""
        ends = {tp: high for tp, high in self._ends().items() if high > self.start[tp]}
        self.consumer.assign([TopicPartition(t, p, self.start[(t, p)]) for t, p in ends])
        largest, where = 0, "-"
        last_state: dict[bytes, str] = {}
        taskruns = self.kafka.topic_prefix + TASKRUNS
        while ends:
            for msg in self.consumer.consume(num_messages=1000, timeout=1.0):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise SystemExit(f"scan: {error}")
                key, value = msg.key() or b"", msg.value() or b""
                if len(key) + len(value) > largest:
                    largest, where = len(key) + len(value), (msg.topic() or "")[len(self.kafka.topic_prefix) :]
                if msg.topic() == taskruns and value:
                    state = orjson.loads(value).get("taskRun", {}).get("state", {}).get("current")
                    last_state[key] = state
            # transaction markers take offsets no message reaches: done once the position passed the end
            for (topic, partition), high in list(ends.items()):
                if self.consumer.position([TopicPartition(topic, partition)])[0].offset >= high:
                    del ends[(topic, partition)]
        self.consumer.close()
        return largest, where, sum(1 for s in last_state.values() if s in DONE)


# ---- one case


def start_services(bench: Bench, workers: int) -> None:
    bench.start("executor-1", "executor")
    bench.start("indexer", "indexer")
    bench.workers(workers)


def measure(one: Case, bench: Bench, args: argparse.Namespace) -> list[str]:
    start_services(bench, args.workers)
    bench.wait(bench.burst(bench.created(ONE, 20)), timeout=180)  # groups joined, code loaded
    pid = executor_pid(bench, "executor-1")
    scan = RecordScan(bench.kafka)
    rss_before = memory_kib(pid)["VmRSS"]
    watch = MemoryWatch(pid)
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    (execution_id,) = bench.burst([new_execution(one.flow)])
    while execution_id not in bench.ended and time.monotonic() - started < args.timeout:
        bench.read_final(0.2)
        watch.sample()
    cpu = cpu_seconds(pid) - cpu_before
    memory = memory_kib(pid)
    settled = time.monotonic() + 5  # the end's tombstones sent, the state dropped: what the process keeps
    while time.monotonic() < settled:
        bench.read_final(0.2)
    after = memory_kib(pid)["VmRSS"]
    print(
        f"    {one.name}: {watch.text()}; VmRSS 5 s after the end {after / 1024:,.0f} MiB", file=sys.stderr, flush=True
    )
    largest, topic, ended_runs = scan.finish()
    final = bench.ended.get(execution_id)
    peak = f"{memory['VmHWM'] / 1024:,.0f} (+{(memory['VmHWM'] - rss_before) / 1024:,.0f})"
    record = f"{largest:,} ({topic})"
    if final is None:
        return [
            one.name,
            f"{ended_runs:,} of {one.expected:,} ended",
            f"timeout after {args.timeout:.0f} s",
            _rate(ended_runs / args.timeout),
            f"{cpu * 1e6 / ended_runs:,.0f}" if ended_runs else "-",
            peak,
            record,
        ]
    wall = final["ended"] - final["created"]
    runs = ended_runs  # from the taskruns topic, not the final record (whose shape is the executor's)
    state = "" if final["state"] == "SUCCESS" else f" {final['state']}"
    runs_text = f"{runs:,}" + ("" if runs == one.expected else f" (expected {one.expected:,})") + state
    return [one.name, runs_text, f"{wall:,.1f} s", _rate(runs / wall), f"{cpu * 1e6 / runs:,.0f}", peak, record]


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def header(args: argparse.Namespace, logs: Path) -> list[str]:
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
    )

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return [
        "Conveyor benchmark: executions of any size",
        f"  date     {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"  machine  {os.cpu_count()} cores, {mem_kib / 1024**2:.1f} GiB RAM, {platform.platform()}, "
        f"load average {os.getloadavg()[0]:.2f}",
        f"  commit   {git('rev-parse', '--short', 'HEAD')} ({git('rev-parse', '--abbrev-ref', 'HEAD')}) "
        f"{git('log', '-1', '--format=%s')}{dirty}",
        f"  setup    each case on fresh services: 1 executor, {args.workers} worker(s) x {args.concurrency}, "
        "1 indexer, "
        f"{args.partitions} partitions; {'fresh local servers' if args.local else 'servers from the environment'}; "
        f"timeout {args.timeout:.0f} s; logs in {logs}",
    ]


COLUMNS = (
    "execution",
    "task runs",
    "wall",
    "task runs/s",
    "executor CPU µs/task run",
    "executor peak RSS MiB (rise)",
    "largest record B (topic)",
)


NOTES = (
    "wall: CREATED to end date as recorded; CPU: utime + stime of the executor process (/proc/<pid>/stat),",
    "  submission to end; peak RSS: VmHWM of each case's own fresh executor process (its start-up and 20 warm-up",
    "  executions included), rise: VmHWM minus its VmRSS just before the submission; largest record: key + value",
    "  as consumers see them (before compression), written from the submission to the end.",
)


def run(args: argparse.Namespace) -> None:
    logs = Path(tempfile.mkdtemp(prefix="conveyor-sizes-"))
    for line in header(args, logs):
        print(line, flush=True)
    print(flush=True)
    with ExitStack() as stack:
        bootstrap, es_url, groups = servers(stack, args.local)
        rows: list[list[str]] = []
        for i, one in enumerate(args.sizes):
            print(f"  case {i + 1}/{len(args.sizes)}: {one.name} ...", file=sys.stderr, flush=True)
            bench = new_bench(bootstrap, es_url, groups, args.partitions, args.concurrency, logs / f"case-{i + 1}")
            try:
                rows.append(measure(one, bench, args))
            finally:
                bench.close()
                drop(bench)
            print("    " + " | ".join(rows[-1][1:]), file=sys.stderr, flush=True)
        if rows:
            widths = [max(len(r[c]) for r in [list(COLUMNS), *rows]) for c in range(len(COLUMNS))]
            for row in [list(COLUMNS), *rows]:
                print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), flush=True)
            for note in NOTES:
                print(f"  {note}")

        if args.executions:
            bench = new_bench(bootstrap, es_url, groups, args.partitions, args.concurrency, logs / "bursts")
            try:
                start_services(bench, args.workers)
                indexed = warm_up(bench, args.warmup_bursts)
                rows, _, _, _ = one_task_burst(bench, args.executions, indexed)
                rows.append(ten_task_burst(bench, args.executions))
            finally:
                bench.close()
                drop(bench)
            width = max(len(r[0]) for r in rows)
            print(f"\n  bench/throughput.py bursts (fresh services, {args.warmup_bursts} warm-up bursts of 1,000):")
            for label, value in rows:
                print(f"  {label.ljust(width)}  {value}", flush=True)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\n  load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores: other work shares them")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes",
        type=lambda text: [case(s.strip()) for s in text.split(",") if s.strip()],
        default=DEFAULT_SIZES,
        help=f"the cases, comma-separated: N, NcL (concurrencyLimit L), AxB (nested); default {DEFAULT_SIZES}",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one case may take (default 1800)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="attempts one worker runs at once")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the bench topics")
    parser.add_argument(
        "--executions", type=int, default=3000, help="one-task executions in the throughput burst (0: no bursts)"
    )
    parser.add_argument("--warmup-bursts", type=int, default=3, help="one-task bursts of 1,000 before the bursts")
    parser.add_argument("--local", action="store_true", help="start fresh Kafka and Elasticsearch servers")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
