"""The scheduler's benchmark: fire lag and CPU with 10,000 one-minute and 1,000 one-second schedules.

    .venv/bin/python bench/schedules.py                     # on CONVEYOR_KAFKA_BOOTSTRAP
    .venv/bin/python bench/schedules.py --minute 1000 --second 100 --seconds 60   # a smaller run

Deploys the flows (straight onto a fresh `flows` topic), starts one `conveyor scheduler` process, waits
until it fires, then for `--seconds` reads every `ExecutionCreated` it commits and measures, per slot:
- created lag: the slot's date to the record's timestamp (when the scheduler produced it);
- visible lag: the slot's date to when a read_committed consumer received it (after the commit).
The scheduler's CPU comes from /proc (user + system time over the window). The one-minute slots all fall
on the same second (:00), the worst case: 10,000 at once, plus 1,000 every second. No executor runs: the
benchmark measures the scheduler alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conveyor.common.clock import utcnow  # noqa: E402
from conveyor.common.deployed import DeployedFlow  # noqa: E402
from conveyor.common.events import ExecutionCreated  # noqa: E402
from conveyor.common.kafka.admin import ensure_topics  # noqa: E402
from conveyor.common.kafka.follow import Follower  # noqa: E402
from conveyor.common.kafka.producer import Producer  # noqa: E402
from conveyor.common.kafka.topics import Topics  # noqa: E402
from conveyor.common.settings import KafkaSettings  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def source(flow_id: str, cron: str, seconds: bool) -> str:
    return (
        f"id: {flow_id}\nnamespace: bench.schedules\ntasks:\n"
        "  - {id: t, type: io.kestra.plugin.core.debug.Return, format: '{{ trigger.date }}'}\n"
        f"triggers:\n  - {{id: tick, type: io.kestra.plugin.core.trigger.Schedule, cron: '{cron}', "
        f"withSeconds: {'true' if seconds else 'false'}}}\n"
    )


def deploy(kafka: KafkaSettings, minute: int, second: int) -> None:
    producer = Producer(kafka)
    topic = Topics.of(kafka).flows
    now = utcnow()
    flows = [(f"m{i}", "* * * * *", False) for i in range(minute)] + [
        (f"s{i}", "* * * * * *", True) for i in range(second)
    ]
    for flow_id, cron, seconds in flows:
        deployed = DeployedFlow(
            namespace="bench.schedules", id=flow_id, revision=1, source=source(flow_id, cron, seconds), deployed_at=now
        )
        producer.send(topic, deployed.key, deployed.to_json())
        producer.poll(0)
    producer.flush()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure(follower: Follower, seconds: float) -> tuple[list[float], list[float], int]:
    created: list[float] = []
    visible: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for msg in follower.poll(0.2):
            received = time.time()
            event = ExecutionCreated.model_validate_json(msg.value or b"")
            trigger = event.execution.trigger
            if trigger is None or trigger.date is None:
                continue
            slot = trigger.date.timestamp()
            created.append((msg.timestamp_ms or 0) / 1000 - slot)
            visible.append(received - slot)
    return created, visible, len(created)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minute", type=int, default=10_000, help="flows with a one-minute schedule")
    parser.add_argument("--second", type=int, default=1_000, help="flows with a one-second schedule")
    parser.add_argument("--seconds", type=float, default=125.0, help="measurement window (s)")
    args = parser.parse_args()
    prefix = f"bench-sched-{uuid.uuid4().hex[:6]}."
    kafka = KafkaSettings(topic_prefix=prefix)
    ensure_topics(kafka)
    deploy(kafka, args.minute, args.second)
    env = {**os.environ, "CONVEYOR_KAFKA_TOPIC_PREFIX": prefix, "CONVEYOR_KAFKA_BOOTSTRAP": kafka.bootstrap}
    log = tempfile.NamedTemporaryFile(prefix="scheduler-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "conveyor.cli.main", "scheduler"], env=env, stdout=log, stderr=log)
    try:
        follower = Follower(kafka, [Topics.of(kafka).execution_events])
        loading = time.monotonic()
        while not any(True for _ in follower.poll(0.5)):  # its first slot: the flows are loaded
            if proc.poll() is not None or time.monotonic() - loading > 600:
                raise SystemExit(f"the scheduler did not fire (log: {log.name})")
        loaded = time.monotonic() - loading
        cpu_before, wall_before = cpu_seconds(proc.pid), time.monotonic()
        created, visible, count = measure(follower, args.seconds)
        cpu = (cpu_seconds(proc.pid) - cpu_before) / (time.monotonic() - wall_before)
    finally:
        proc.terminate()
        proc.wait(30)
    rate = count / args.seconds
    print(f"\nScheduler benchmark, {datetime.now(UTC):%Y-%m-%d}: {args.minute} one-minute + {args.second} one-second "
          f"schedules, one scheduler, {args.seconds:.0f} s window (firing after {loaded:.1f} s)\n")  # fmt: skip
    print("| measure | value |\n|---|---|")
    print(f"| slots fired | {count} ({rate:.0f}/s) |")
    for name, values in (("created lag", created), ("visible lag", visible)):
        print(f"| {name} p50 / p99 / max | {percentile(values, 0.5):.3f} s / {percentile(values, 0.99):.3f} s / "
              f"{max(values, default=float('nan')):.3f} s |")  # fmt: skip
    print(f"| scheduler CPU | {cpu * 100:.0f} % of one core |")
    print(f"| mean visible lag | {statistics.fmean(visible) if visible else float('nan'):.3f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
