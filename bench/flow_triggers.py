"""The Flow trigger loop's benchmark: start lag and CPU with many deployed flows.

    .venv/bin/python bench/flow_triggers.py                          # on CONVEYOR_KAFKA_BOOTSTRAP
    .venv/bin/python bench/flow_triggers.py --flows 100 --rate 50 --seconds 20   # a smaller run

Deploys `--flows` flows (straight onto a fresh `flows` topic), each with a Flow trigger on its own upstream
flow, plus 10 that any ended execution must be checked against (a namespace prefix condition, never holding),
starts one `conveyor scheduler` process, then for `--seconds` writes final execution snapshots of the upstream
flows (round robin) at `--rate` a second on `executions`, as the executor would, and measures for each the lag
from the snapshot's record timestamp to when a read_committed consumer of `execution-events` received the
triggered `ExecutionCreated` (after the commit). The scheduler's CPU comes from /proc. No executor runs: the
benchmark measures the trigger loop alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.schedules import cpu_seconds, percentile  # noqa: E402
from conveyor.common.clock import utcnow  # noqa: E402
from conveyor.common.deployed import DeployedFlow  # noqa: E402
from conveyor.common.events import FLOW_HEADER, ExecutionCreated  # noqa: E402
from conveyor.common.kafka.admin import ensure_topics  # noqa: E402
from conveyor.common.kafka.follow import Follower  # noqa: E402
from conveyor.common.kafka.producer import Producer  # noqa: E402
from conveyor.common.kafka.topics import Topics  # noqa: E402
from conveyor.common.model import Execution  # noqa: E402
from conveyor.common.settings import KafkaSettings  # noqa: E402
from conveyor.common.state import State, StateType  # noqa: E402

NS = "bench.flowtrig"


def source(flow_id: str, condition: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: {NS}\ntasks:\n"
        "  - {id: t, type: io.kestra.plugin.core.debug.Return, format: '{{ trigger.executionId }}'}\n"
        "triggers:\n  - id: after\n    type: io.kestra.plugin.core.trigger.Flow\n"
        f"    conditions:\n      - {condition}\n"
    )


def deploy(kafka: KafkaSettings, flows: int) -> None:
    producer = Producer(kafka)
    topic = Topics.of(kafka).flows
    cond = "io.kestra.plugin.core.condition."
    sources = [
        (f"d{i}", source(f"d{i}", f"{{type: {cond}ExecutionFlow, namespace: {NS}, flowId: u{i}}}"))
        for i in range(flows)
    ] + [
        (f"any{i}", source(f"any{i}", f"{{type: {cond}ExecutionNamespace, namespace: nowhere, comparison: PREFIX}}"))
        for i in range(10)
    ]
    for flow_id, text in sources:
        deployed = DeployedFlow(namespace=NS, id=flow_id, revision=1, source=text, deployed_at=utcnow())
        producer.send(topic, deployed.key, deployed.to_json())
        producer.poll(0)
    producer.flush()


def end(producer: Producer, topic: str, upstream: str, number: int) -> None:
    ended = Execution(
        id=f"x{number}", namespace=NS, flow_id=upstream, state=State.new(utcnow(), StateType.SUCCESS), revision=3
    )
    producer.send(topic, ended.id, ended.to_json(), headers=[(FLOW_HEADER, b"{}")])


def drive(kafka: KafkaSettings, follower: Follower, flows: int, rate: float, seconds: float) -> tuple[list[float], int]:
    """Write ended snapshots at `rate`/s for `seconds`, then read the creations for 10 s more; lags (s)."""
    producer = Producer(kafka)
    topic = Topics.of(kafka).executions
    sent: dict[str, float] = {}
    lags: list[float] = []
    start = time.monotonic()
    number = 0
    while time.monotonic() - start < seconds + 10:
        due = min(int((time.monotonic() - start) * rate), int(seconds * rate))
        while number < due:
            end(producer, topic, f"u{number % flows}", number)
            sent[f"x{number}"] = time.time()
            number += 1
        producer.poll(0)
        for msg in follower.poll(0.05):
            received = time.time()
            trigger = ExecutionCreated.model_validate_json(msg.value or b"").execution.trigger
            if trigger is not None and trigger.variables.get("executionId") in sent:
                lags.append(received - sent[trigger.variables["executionId"]])
    producer.flush()
    return lags, number


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=10_000, help="flows with a Flow trigger")
    parser.add_argument("--rate", type=float, default=200.0, help="ended executions per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long they are written (s)")
    args = parser.parse_args()
    prefix = f"bench-flowtrig-{uuid.uuid4().hex[:6]}."
    kafka = KafkaSettings(topic_prefix=prefix)
    ensure_topics(kafka)
    deploy(kafka, args.flows)
    env = {**os.environ, "CONVEYOR_KAFKA_TOPIC_PREFIX": prefix, "CONVEYOR_KAFKA_BOOTSTRAP": kafka.bootstrap}
    log = tempfile.NamedTemporaryFile(prefix="scheduler-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "conveyor.cli.main", "scheduler"], env=env, stdout=log, stderr=log)
    try:
        follower = Follower(kafka, [Topics.of(kafka).execution_events])
        # warm-up: one ended execution, until its creation shows (the flows are loaded, the group joined)
        warm = Producer(kafka)
        end(warm, Topics.of(kafka).executions, "u0", -1)
        warm.flush()
        loading = time.monotonic()
        while not any(True for _ in follower.poll(0.5)):
            if proc.poll() is not None or time.monotonic() - loading > 600:
                raise SystemExit(f"the scheduler did not fire (log: {log.name})")
        loaded = time.monotonic() - loading
        cpu_before, wall_before = cpu_seconds(proc.pid), time.monotonic()
        lags, sent = drive(kafka, follower, args.flows, args.rate, args.seconds)
        cpu = (cpu_seconds(proc.pid) - cpu_before) / (time.monotonic() - wall_before)
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"\nFlow trigger benchmark, {datetime.now(UTC):%Y-%m-%d}: {args.flows} flows with a Flow trigger (+10 "
          f"checked for every execution), {sent} ended executions at {args.rate:.0f}/s, one scheduler "
          f"(first start after {loaded:.1f} s)\n")  # fmt: skip
    print("| measure | value |\n|---|---|")
    print(f"| executions started | {len(lags)} of {sent} |")
    print(f"| start lag p50 / p99 / max | {percentile(lags, 0.5):.3f} s / {percentile(lags, 0.99):.3f} s / "
          f"{max(lags, default=float('nan')):.3f} s |")  # fmt: skip
    print(f"| scheduler CPU | {cpu * 100:.0f} % of one core (over the {args.seconds:.0f} s + 10 s window) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
