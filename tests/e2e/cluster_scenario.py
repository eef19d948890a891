"""The fault scenario on the real cluster (3 Kafka brokers, 3 Elasticsearch nodes), shared by
`tests/e2e/test_cluster_faults.py` (a small count) and `bench/cluster_faults.py` (5,000 executions).

Executors, workers and an indexer run as processes against the clusters. For each fault in turn a wave of
mixed executions is submitted, then the fault is applied on a thread of its own while the main thread
follows progress: how many executions ended, the wave's throughput, and the longest stall (no execution
ending while some were still running) with the fault it happened under. Then: every execution ended as
expected, each expected task run exactly once, Elasticsearch equal to the compacted topics."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.topics import Topics
from conveyor.common.servers.elasticsearch_cluster import ElasticsearchCluster
from conveyor.common.servers.kafka_cluster import KafkaCluster
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import StateType
from tests.cli import ROOT
from tests.e2e.conftest import Stack
from tests.e2e.test_faults import CASES, Case, Snapshots, case, submit

log = logging.getLogger("cluster-faults")

PARTITIONS = 6
EXECUTORS = 2
WORKERS = 3
# How long a SIGKILLed node stays down before it is started again.
DOWN_SECONDS = 5.0
# How long a node may take to start again: a JVM start took 30 to 150 s on the shared 2-core box at load 20-30.
RESTART_TIMEOUT = 300.0
START_TIMEOUT = 300.0
BLOCKED_SECONDS = 10.0

MIXED = [
    *CASES,
    case(
        """
id: commands
namespace: conveyor.chaos
tasks:
  - {id: sh, type: io.kestra.plugin.scripts.shell.Commands, commands: ["echo ok"]}
""",
        StateType.SUCCESS,
        ("sh", None),
    ),
]


FAULT_KEYS = ["leader", "controller", "rolling", "es-node", "services", "read-only"]


def start_stack(kafka: KafkaCluster, es: ElasticsearchCluster, logs: Path) -> Stack:
    """2 executors, 3 workers and an indexer as processes on the clusters, with a fresh prefix."""
    prefix = f"cluster-{uuid.uuid4().hex[:6]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")},
        "CONVEYOR_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "CONVEYOR_KAFKA_TOPIC_PREFIX": f"{prefix}.",
        "CONVEYOR_KAFKA_PARTITIONS": str(PARTITIONS),
        "CONVEYOR_ELASTICSEARCH_URL": es.urls,
        "CONVEYOR_ELASTICSEARCH_INDEX_PREFIX": prefix,
        "CONVEYOR_HOME": str(logs / "home"),
        "CONVEYOR_INDEXER_FLUSH_INTERVAL": "0.2",
        "CONVEYOR_EXECUTOR_WORKER_TIMEOUT": "8",
    }
    settings = KafkaSettings(bootstrap=kafka.bootstrap, topic_prefix=f"{prefix}.", partitions=PARTITIONS)
    ensure_topics(settings)
    stack = Stack(env, settings, ElasticsearchSettings(url=es.urls, index_prefix=prefix), logs)
    for i in range(EXECUTORS):
        stack.start(f"executor-{i + 1}", "executor")
    stack.start("indexer", "indexer")
    for i in range(WORKERS):
        stack.start(f"worker-{i + 1}", "worker", {"CONVEYOR_WORKER_WORKER_ID": f"worker-{i + 1}"})
    return stack


def stop_stack(stack: Stack) -> None:
    for name in list(stack.procs):
        stack.stop(name)


@dataclass
class Phase:
    fault: str
    executions: int
    seconds: float = 0.0
    longest_stall: float = 0.0
    detail: str = ""
    # when (epoch seconds) the longest stall began: to find its cause in the services' and servers' logs
    stall_began: float = 0.0

    @property
    def throughput(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


class Faults(Protocol):
    """The faults of the scenario, applied to a cluster; each returns a word on what it did."""

    def kill_leading_broker(self) -> str: ...
    def kill_controller(self) -> str: ...
    def rolling_restart(self) -> str: ...
    def kill_es_node(self) -> str: ...
    def kill_executor_and_worker(self) -> str: ...


@dataclass
class Scenario:
    stack: Stack
    on: Faults
    submitted: dict[str, Case] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    snapshots: Snapshots | None = None
    # the faults to apply, by key (FAULT_KEYS); None: all of them
    only: list[str] | None = None

    def faults(self) -> list[tuple[str, Callable[[], str]]]:
        every = {
            "leader": ("broker leading most execution-events partitions SIGKILLed", self.on.kill_leading_broker),
            "controller": ("active controller SIGKILLed", self.on.kill_controller),
            "rolling": ("rolling restart of the 3 brokers", self.on.rolling_restart),
            "es-node": ("Elasticsearch data node SIGKILLed", self.on.kill_es_node),
            "services": ("an executor and a worker SIGKILLed", self.on.kill_executor_and_worker),
            "read-only": (
                "Elasticsearch read-only (flood-stage block) then released",
                lambda: block_es_writes(self.stack),
            ),
        }
        return [every[key] for key in (self.only or FAULT_KEYS)]

    def run(self, executions: int, timeout: float) -> list[Phase]:
        """Every fault in turn, each under a wave of `executions / 6` executions; then wait for the rest."""
        faults = self.faults()
        per_wave = max(executions // len(faults), len(MIXED))
        log.info("first wave (%d executions, no fault)", len(MIXED))
        snapshots = self.snapshots = Snapshots(self.stack)
        deadline = time.monotonic() + timeout
        # A first wave with no fault: every service is up and consuming before the first server is killed
        first = submit(self.stack, len(MIXED), MIXED)
        self.submitted.update(first)
        snapshots.wait(list(first), timeout=START_TIMEOUT)
        assert snapshots.ended(list(first)) == len(first), "the stack ran no first wave before the faults"
        for name, fault in faults:
            wave = submit(self.stack, per_wave, MIXED)
            self.submitted.update(wave)
            log.info("wave of %d submitted: %s", len(wave), name)
            self.phases.append(self._follow(snapshots, name, fault, list(wave), deadline))
        snapshots.wait(list(self.submitted), timeout=max(deadline - time.monotonic(), 1.0))
        return self.phases

    def close(self) -> None:
        if self.snapshots is not None:
            self.snapshots.close()

    def _follow(
        self, snapshots: Snapshots, name: str, fault: Callable[[], str], ids: list[str], deadline: float
    ) -> Phase:
        """Apply `fault` on this thread (a restarted server's parent-death signal is tied to the thread that
        spawns it, so it must be the one that outlives it) while a helper thread follows the wave."""
        phase = Phase(name, len(ids))
        done = threading.Event()
        ended = [0]

        def follow() -> None:
            progressed = time.monotonic()
            while not done.is_set() and time.monotonic() < deadline:
                now_ended = snapshots.ended(ids)
                now = time.monotonic()
                if now_ended > ended[0] or now_ended == len(ids):
                    ended[0], progressed = now_ended, now
                if now - progressed > phase.longest_stall:
                    phase.longest_stall, phase.stall_began = now - progressed, time.time() - (now - progressed)
                if now_ended == len(ids) and faulted.is_set():
                    return

        faulted = threading.Event()
        started = time.monotonic()
        follower = threading.Thread(target=follow, name="follow-wave", daemon=True)
        follower.start()
        try:
            phase.detail = fault()
        finally:
            faulted.set()
        follower.join(max(deadline - time.monotonic(), 1.0))
        done.set()
        follower.join(10)
        assert ended[0] == len(ids), f"{name}: {len(ids) - ended[0]} of {len(ids)} executions did not end in time"
        phase.seconds = time.monotonic() - started
        log.info(
            "%s: %d executions in %.1f s; longest stall %.1f s from %s UTC",
            name, len(ids), phase.seconds, phase.longest_stall, _utc(phase.stall_began),
        )  # fmt: skip
        return phase


@dataclass
class ClusterFaults:
    """The faults on clusters this process started, and on the `Stack`'s services (replaced by new ones)."""

    stack: Stack
    kafka: KafkaCluster
    es: ElasticsearchCluster
    _replacements: int = 0

    def kill_leading_broker(self) -> str:
        leaders = self.kafka.leaders(Topics.of(self.stack.kafka).execution_events)
        victim = self.kafka.node(max(leaders, key=lambda n: leaders[n]))
        victim.kill()
        time.sleep(DOWN_SECONDS)
        victim.restart(RESTART_TIMEOUT)
        self.kafka.wait_in_sync(RESTART_TIMEOUT)
        return f"node {victim.node_id} (led {leaders[victim.node_id]} of {sum(leaders.values())})"

    def kill_controller(self) -> str:
        victim = self.kafka.node(self.kafka.active_controller())
        victim.kill()
        time.sleep(DOWN_SECONDS)
        victim.restart(RESTART_TIMEOUT)
        self.kafka.wait_in_sync(RESTART_TIMEOUT)
        return f"node {victim.node_id}; now {self.kafka.active_controller()} leads the quorum"

    def rolling_restart(self) -> str:
        for node in self.kafka.nodes:
            node.stop_process()
            node.restart(RESTART_TIMEOUT)
            self.kafka.wait_in_sync(RESTART_TIMEOUT)
        return "1, 2, 3 (SIGTERM, start, in sync)"

    def kill_es_node(self) -> str:
        victim = self.es.nodes[-1]
        victim.kill()
        time.sleep(DOWN_SECONDS)
        victim.restart(RESTART_TIMEOUT)
        self.es.wait_green(RESTART_TIMEOUT)
        return victim.name

    def kill_executor_and_worker(self) -> str:
        self._replacements += 1
        executor = next(name for name in self.stack.procs if name.startswith("executor"))
        # every worker runs attempts all along under the wave (Sleep, Commands), so the first one loses some
        worker = next(name for name in self.stack.procs if name.startswith("worker"))
        self.stack.kill(executor)
        self.stack.kill(worker)
        replacement = f"worker-r{self._replacements}"
        self.stack.start(f"executor-r{self._replacements}", "executor")
        self.stack.start(replacement, "worker", {"CONVEYOR_WORKER_WORKER_ID": replacement})
        return f"{executor}, {worker}"


def block_es_writes(stack: Stack) -> str:
    """The indices made read-only (the flood-stage block) for BLOCKED_SECONDS, then released."""
    client = elasticsearch_client(stack.es)
    pattern = f"{stack.es.index_prefix}-*"
    try:
        client.indices.put_settings(index=pattern, settings={"index.blocks.read_only_allow_delete": True})
        time.sleep(BLOCKED_SECONDS)
        client.indices.put_settings(index=pattern, settings={"index.blocks.read_only_allow_delete": None})
    finally:
        client.close()
    return f"{BLOCKED_SECONDS:.0f} s"


def _utc(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch)) if epoch else "-"


def table(phases: list[Phase]) -> str:
    rows = [
        f"| {p.fault} | {p.detail} | {p.executions} | {p.seconds:.1f} | {p.throughput:.1f} | {p.longest_stall:.1f}"
        f" (from {_utc(p.stall_began)} UTC) |"
        for p in phases
    ]
    worst = max(phases, key=lambda p: p.longest_stall)
    return "\n".join(
        [
            "| fault | what | executions | seconds | executions/s | longest stall (s) |",
            "|---|---|---|---|---|---|",
            *rows,
            f"longest stall: {worst.longest_stall:.1f} s during '{worst.fault}' ({worst.detail})",
        ]
    )


__all__ = [
    "FAULT_KEYS",
    "ROOT",
    "ClusterFaults",
    "Faults",
    "Phase",
    "Scenario",
    "block_es_writes",
    "start_stack",
    "stop_stack",
    "table",
]
