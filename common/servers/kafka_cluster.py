"""A 3-node KRaft Kafka cluster on loopback: every node is broker and controller at once (combined mode).

Why combined: three JVMs instead of six (three controllers beside three brokers) on a 2-core box, and the
quorum is still three voters, so it survives one node lost, whether that node leads the quorum (the active
controller), leads partitions, or both. Separate controllers are what a production cluster of many brokers
runs; for three machines combined mode is what Kafka documents too.

The internal topics are replicated three times with `min.insync.replicas` 2 (offsets, transactions, and
the default for every topic), so one broker down loses no acknowledged write (`acks=all`) and stops nothing.
Each node keeps its ports and data folder: `nodes[i].kill()` is a SIGKILL, `nodes[i].restart()` starts it
again where it was. `wait_in_sync()` waits until every replica has caught up (before the next node of a
rolling restart).
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from conveyor.common.servers.errors import StartError
from conveyor.common.servers.kafka import KafkaServer, _cluster_id, _common_properties, _quiet, spawn_node
from conveyor.common.servers.kafka import _transactions_ready as transactions_ready
from conveyor.common.servers.process import ServerCluster, free_port, port_open, started

log = logging.getLogger(__name__)

NODES = 3
# What a node logs when it wins a KRaft election: "Completed transition to Leader(localReplicaKey=ReplicaKey(id=2,
# directoryId=...), epoch=7, ...".
_LEADER = re.compile(r"Completed transition to Leader\(localReplicaKey=ReplicaKey\(id=(\d+)[^)]*\), epoch=(\d+)")
HEAP = ["-Xms256m", "-Xmx384m"]
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2


@dataclass
class KafkaNode(KafkaServer):
    """One node of a cluster (broker and controller); `node_id` is 1, 2 or 3."""

    node_id: int = 0
    cluster_bootstrap: str = field(default="", repr=False)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until it listens and the cluster's metadata lists it as a broker again."""
        deadline = time.monotonic() + timeout
        port = int(self.bootstrap.rsplit(":", 1)[1])
        self._process.wait_until(lambda: port_open(port), deadline, "listening")
        self._process.wait_until(lambda: self.node_id in brokers(self.bootstrap), deadline, "registered")


@dataclass
class KafkaCluster(ServerCluster):
    """Three running nodes; `bootstrap` names them all. Stop it, or use it as a context manager."""

    nodes: list[KafkaNode]
    base_dir: Path
    _remove_base_dir: bool = False

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        return next(node for node in self.nodes if node.node_id == node_id)

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Every node registered and a transactional producer can initialise (the transaction log exists
        with its three replicas)."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.wait_ready(max(deadline - time.monotonic(), 1.0))
        first = self.nodes[0]._process
        first.wait_until(lambda: len(brokers(self.bootstrap)) == len(self.nodes), deadline, "joined by every node")
        if not transactions_ready(self.bootstrap, max(deadline - time.monotonic(), 1.0)):
            raise first.failure("had no transaction coordinator in time")

    def wait_in_sync(self, timeout: float = 120.0) -> None:
        """Until every partition of every topic has all its replicas in sync (none under-replicated)."""
        wait_in_sync(self.bootstrap, timeout)

    def active_controller(self, timeout: float = 60.0) -> int:
        """The node id leading the KRaft quorum (the active controller), from the nodes' logs
        (`active_controller`)."""
        logs = {node.node_id: node._process.server_log for node in self.nodes if node._process.server_log}
        return active_controller(logs, lambda node_id: self.node(node_id).running(), timeout)

    def leaders(self, topic: str) -> dict[int, int]:
        """Node id -> how many partitions of `topic` it leads."""
        return leaders(self.bootstrap, topic)


def active_controller(logs: Mapping[int, Path], running: Callable[[int], bool], timeout: float = 60.0) -> int:
    """The node id leading the KRaft quorum (the active controller): the running node that last became leader,
    at the highest epoch, as the nodes' logs (node id -> its server.log) say (the tools jar that
    `kafka-metadata-quorum` needs is not among the server's libraries, and a broker's metadata names a random
    broker as controller)."""
    deadline = time.monotonic() + timeout
    while True:
        elected = [
            (int(epoch), int(node_id))
            for log_path in logs.values()
            if log_path.exists()
            for node_id, epoch in _LEADER.findall(log_path.read_text(errors="replace"))
        ]
        if elected:
            _, leader = max(elected)
            if running(leader):
                return leader
        if time.monotonic() > deadline:
            raise StartError(f"no running active controller after {timeout:.0f} s (elections: {sorted(elected)})")
        time.sleep(0.5)


def leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """Node id -> how many partitions of `topic` it leads."""
    metadata = _admin(bootstrap).list_topics(topic, timeout=10).topics[topic]
    counts: dict[int, int] = {}
    for partition in metadata.partitions.values():
        counts[partition.leader] = counts.get(partition.leader, 0) + 1
    return counts


def start_kafka_cluster(base_dir: Path | None = None, *, timeout: float = 180.0) -> KafkaCluster:
    """Start three nodes in `base_dir`/kafka-N (a temporary folder without one) and wait until the cluster
    serves transactions. Call from a thread that outlives the servers (see `process`)."""
    return started(launch_kafka_cluster(base_dir), timeout)


def launch_kafka_cluster(base_dir: Path | None = None) -> KafkaCluster:
    """Format (first time only) and start the three nodes without waiting; `wait_ready()` does that."""
    remove = base_dir is None
    base = Path(tempfile.mkdtemp(prefix="conveyor-kafka-cluster-")) if base_dir is None else base_dir.absolute()
    ids = range(1, NODES + 1)
    ports = {i: (free_port(), free_port()) for i in ids}
    voters = ",".join(f"{i}@127.0.0.1:{ports[i][1]}" for i in ids)
    format_args = [f"--cluster-id={_cluster_id()}"]
    nodes: list[KafkaNode] = []
    try:
        for i in ids:
            data_dir = base / f"kafka-{i}"
            data_dir.mkdir(parents=True, exist_ok=True)
            port, controller_port = ports[i]
            settings = node_properties(i, data_dir / "data", port, controller_port, voters)
            process = spawn_node(f"Kafka node {i} on 127.0.0.1:{port}", data_dir, settings, format_args, HEAP)
            nodes.append(KafkaNode(f"127.0.0.1:{port}", process.pid, data_dir, process, False, node_id=i))
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    cluster = KafkaCluster(nodes, base, remove)
    for node in nodes:
        node.cluster_bootstrap = cluster.bootstrap
    return cluster


def node_properties(node_id: int, log_dir: Path, port: int, controller_port: int, voters: str) -> dict[str, str]:
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        **_common_properties(),
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "log.dirs": str(log_dir),
        "default.replication.factor": str(REPLICATION_FACTOR),
        "min.insync.replicas": str(MIN_INSYNC_REPLICAS),
        "offsets.topic.replication.factor": str(REPLICATION_FACTOR),
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": str(REPLICATION_FACTOR),
        "transaction.state.log.min.isr": str(MIN_INSYNC_REPLICAS),
        "transaction.state.log.num.partitions": "3",
        # A SIGKILLed node's partitions move to the others after this (the default 9 s, a little less).
        "broker.session.timeout.ms": "6000",
        "broker.heartbeat.interval.ms": "1000",
        # Never elect a replica that was out of sync: that would lose acknowledged writes.
        "unclean.leader.election.enable": "false",
        # Leadership goes back to the preferred replicas after a restart.
        "auto.leader.rebalance.enable": "true",
        "leader.imbalance.check.interval.seconds": "10",
        "num.replica.fetchers": "1",
        # Twice the defaults: on a loaded 2-core box a starved voter otherwise calls elections that flap the
        # quorum; a dead controller is still replaced within ~5 s.
        "controller.quorum.election.timeout.ms": "2000",
        "controller.quorum.fetch.timeout.ms": "4000",
    }


_admins: dict[str, AdminClient] = {}
_admins_lock = threading.Lock()


def _admin(bootstrap: str) -> AdminClient:
    """One admin client per cluster for every health check, kept for the process's life: librdkafka can abort
    the process (an `enq_once` refcount assertion) when an admin client is destroyed with a metadata request
    still in flight to a broker that just died, which polling with a new client each time did."""
    with _admins_lock:
        if bootstrap not in _admins:
            _admins[bootstrap] = AdminClient({"bootstrap.servers": bootstrap}, logger=_quiet("admin"))
        return _admins[bootstrap]


def brokers(bootstrap: str) -> set[int]:
    """The node ids the cluster's metadata lists as brokers (empty when nothing answers)."""
    from confluent_kafka import KafkaException

    admin = _admin(bootstrap)
    try:
        return set(admin.list_topics(timeout=2).brokers)
    except KafkaException:
        return set()


def wait_in_sync(bootstrap: str, timeout: float = 120.0) -> None:
    """Until every partition of every topic has all its replicas in sync (none under-replicated)."""
    deadline = time.monotonic() + timeout
    while (behind := under_replicated(bootstrap)) != 0:
        if time.monotonic() > deadline:
            raise StartError(f"{behind} partitions still under-replicated after {timeout:.0f} s")
        time.sleep(0.5)


def under_replicated(bootstrap: str) -> int:
    """How many partitions have fewer in-sync replicas than replicas (-1 when the cluster does not answer)."""
    from confluent_kafka import KafkaException

    admin = _admin(bootstrap)
    try:
        topics = admin.list_topics(timeout=5).topics
    except KafkaException:
        return -1
    return sum(1 for topic in topics.values() for p in topic.partitions.values() if len(p.isrs) < len(p.replicas))
