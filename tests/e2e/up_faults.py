"""The cluster fault scenario on the stack of `conveyor up --cluster`, as its operator lives it: each fault is a
process killed by its pid from `$CONVEYOR_HOME/stack.json` (a broker, the controller, every broker in turn, an
Elasticsearch node, the executor and a worker), and `up`'s supervisor starts it again on its ports and data,
as it would in production; the scenario only waits until the cluster is whole again. Used by
`bench/cluster_faults.py` (`--on up`, its default).

`up` runs one executor: while it is down (SIGKILL, then its restart by the supervisor) no execution advances."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.common.kafka.topics import Topics
from conveyor.common.procfs import alive
from conveyor.common.servers.elasticsearch_cluster import health_is
from conveyor.common.servers.kafka_cluster import active_controller, brokers, leaders, under_replicated
from conveyor.common.servers.process import die_with_parent
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.shutdown import PARENT_DEATH_SIGNAL
from tests.cli import ROOT
from tests.e2e.cluster_scenario import PARTITIONS, RESTART_TIMEOUT, START_TIMEOUT
from tests.e2e.conftest import Stack
from tests.e2e.test_faults import wait_for

log = logging.getLogger("cluster-faults")

WORKERS = 3
STOP_TIMEOUT = 180.0


@contextmanager
def up_cluster(base: Path) -> Iterator[tuple[Stack, Path]]:
    """`conveyor up --cluster` (3 workers, 6 partitions) as a child of ours (it dies with us), a `Stack` on it
    (no processes of its own) and its home; stopped as `conveyor down` does (SIGTERM) at the end."""
    home = base / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")},
        "CONVEYOR_HOME": str(home),
        "CONVEYOR_KAFKA_PARTITIONS": str(PARTITIONS),
        "CONVEYOR_INDEXER_FLUSH_INTERVAL": "0.2",
        "CONVEYOR_EXECUTOR_WORKER_TIMEOUT": "8",
    }
    with (base / "up.log").open("ab") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", "up", "--cluster", "--workers", str(WORKERS)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(PARENT_DEATH_SIGNAL),
        )
    try:
        state = wait_for(lambda: _ready(home, up), START_TIMEOUT * 2, "conveyor up --cluster to be ready")
        kafka = KafkaSettings(bootstrap=state["kafkaBootstrap"], topic_prefix="conveyor.", partitions=PARTITIONS)
        es = ElasticsearchSettings(url=state["elasticsearchUrl"], index_prefix="conveyor")
        yield Stack(env, kafka, es, home / "logs"), home
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()


def _ready(home: Path, up: subprocess.Popen[bytes]) -> dict[str, Any] | None:
    assert up.poll() is None, f"conveyor up exited with {up.returncode}; see {home.parent / 'up.log'}"
    try:
        state: dict[str, Any] = json.loads((home / "stack.json").read_text())
    except (OSError, ValueError):
        return None
    return state if state.get("ready") else None


def stack_pids(home: Path) -> list[int]:
    """Every process `up` runs now: servers and services."""
    state = json.loads((home / "stack.json").read_text())
    return [*state["servers"].values(), *state["services"].values()]


@dataclass
class UpFaults:
    """The scenario's faults (`cluster_scenario.Faults`) on `up`'s processes, by pid."""

    stack: Stack
    home: Path

    def _state(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "stack.json").read_text()))

    @property
    def _bootstrap(self) -> str:
        return str(self._state()["kafkaBootstrap"])

    def _kill(self, kind: str, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """`sig` to the process (a server: its whole group), then wait until `up` has started it again."""
        self._restarted(kind, name, self._signal(kind, name, sig))

    def _signal(self, kind: str, name: str, sig: signal.Signals) -> int:
        """`sig` to the process and wait until it is gone; its pid."""
        old = int(self._state()[kind][name])
        log.info("%s (pid %d): %s", name, old, sig.name)
        if kind == "servers":
            os.killpg(old, sig)
        else:
            os.kill(old, sig)
        wait_for(lambda: not alive(old), RESTART_TIMEOUT, f"{name} (pid {old}) to end")
        log.info("%s (pid %d) ended", name, old)
        return old

    def _restarted(self, kind: str, name: str, old: int) -> None:
        def started_again() -> bool:
            new = int(self._state()[kind][name])
            return new != old and alive(new)

        wait_for(started_again, RESTART_TIMEOUT, f"conveyor up to start {name} again")
        log.info("%s started again by up (pid %s)", name, self._state()[kind][name])

    def _restart_broker(self, node_id: int, sig: signal.Signals = signal.SIGKILL) -> None:
        """`sig` to kafka-N, then until `up` has started it again, the new process says it has started, it is
        a broker again and no partition is under-replicated. (The cluster's metadata alone is no proof: it
        still lists a SIGKILLed broker, with its replicas in sync, until the controller fences it 6 s later,
        so the next fault came while this broker was still starting, two nodes down at once.)"""
        before = self._starts(node_id)
        self._kill("servers", f"kafka-{node_id}", sig)
        wait_for(lambda: self._starts(node_id) > before, RESTART_TIMEOUT, f"kafka-{node_id} to say it started")
        log.info("kafka-%d says it started", node_id)
        wait_for(lambda: node_id in brokers(self._bootstrap), RESTART_TIMEOUT, f"kafka-{node_id} registered")
        log.info("kafka-%d registered as a broker again", node_id)
        wait_for(lambda: under_replicated(self._bootstrap) == 0, RESTART_TIMEOUT, "every replica in sync")
        log.info("every replica in sync")

    def _starts(self, node_id: int) -> int:
        """How many times kafka-N's server.log says it started (the log is appended to at each start)."""
        path = Path(self._state()["dataDir"]) / "kafka" / f"kafka-{node_id}" / "server.log"
        return path.read_text(errors="replace").count("Kafka Server started") if path.exists() else 0

    def kill_leading_broker(self) -> str:
        counts = leaders(self._bootstrap, Topics.of(self.stack.kafka).execution_events)
        victim = max(counts, key=lambda n: counts[n])
        self._restart_broker(victim)
        return f"kafka-{victim} (led {counts[victim]} of {sum(counts.values())}), restarted by up"

    def kill_controller(self) -> str:
        victim = self._controller()
        self._restart_broker(victim)
        return f"kafka-{victim}, restarted by up; now kafka-{self._controller()} leads the quorum"

    def _controller(self) -> int:
        data = Path(self._state()["dataDir"]) / "kafka"
        logs = {i: data / f"kafka-{i}" / "server.log" for i in (1, 2, 3)}
        return active_controller(logs, lambda i: alive(int(self._state()["servers"][f"kafka-{i}"])))

    def rolling_restart(self) -> str:
        for node_id in (1, 2, 3):
            self._restart_broker(node_id, signal.SIGTERM)
        return "kafka-1, -2, -3 (SIGTERM, restarted by up, in sync)"

    def kill_es_node(self) -> str:
        self._kill("servers", "elasticsearch-3")
        urls = self._state()["elasticsearchUrl"].split(",")
        # Asked of the restarted node itself: the others still say green with 3 nodes for a moment after the
        # SIGKILL, before they notice the node is gone; the new process answers once it has joined again.
        wait_for(lambda: health_is(urls[2], len(urls), "green"), RESTART_TIMEOUT, "elasticsearch-3 back, green")
        log.info("elasticsearch-3 answers again and the cluster is green")
        return "elasticsearch-3, restarted by up"

    def kill_executor_and_worker(self) -> str:
        # every worker runs attempts all along under the wave (Sleep, Commands), so worker-1 loses some
        killed = {name: self._signal("services", name, signal.SIGKILL) for name in ("executor", "worker-1")}
        for name, old in killed.items():
            self._restarted("services", name, old)
        return "executor, worker-1 (the only executor: none runs until up restarts it)"


__all__ = ["UpFaults", "stack_pids", "up_cluster"]
