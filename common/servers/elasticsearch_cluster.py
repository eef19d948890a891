"""A 3-node Elasticsearch cluster on loopback: every node master-eligible and a data node.

Three master-eligible nodes keep a quorum with one lost; with one replica per shard (Conveyor's templates
ask for it when the cluster has two data nodes or more, `indexer/templates.py`) every acknowledged document
survives one node lost. Each node keeps its ports and data folder: `nodes[i].kill()` is a SIGKILL,
`nodes[i].restart()` starts it again where it was; `url` names one node, `urls` all of them (the client
takes the list and goes on through the others).
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from conveyor.common.servers.elasticsearch import ElasticsearchServer, launch_elasticsearch
from conveyor.common.servers.errors import StartError
from conveyor.common.servers.process import ServerCluster, free_port, port_open, started

NODES = 3
HEAP = "-Xms512m -Xmx512m"


@dataclass
class ElasticsearchNode(ElasticsearchServer):
    """One node of a cluster; `name` is es-1, es-2 or es-3."""

    name: str = ""
    cluster_size: int = NODES

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until it listens and the cluster it sees has every node and is at least yellow."""
        deadline = time.monotonic() + timeout
        port = int(self.url.rsplit(":", 1)[1])
        self._process.wait_until(lambda: port_open(port), deadline, "listening")
        self._process.wait_until(lambda: health_is(self.url, self.cluster_size), deadline, "in the cluster")


@dataclass
class ElasticsearchCluster(ServerCluster):
    """Three running nodes; `urls` names them all. Stop it, or use it as a context manager."""

    nodes: list[ElasticsearchNode]
    base_dir: Path
    _remove_base_dir: bool = False

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def urls(self) -> str:
        """Every node's URL, comma-separated (what `CONVEYOR_ELASTICSEARCH_URL` takes)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> ElasticsearchNode:
        return next(node for node in self.nodes if node.name == name)

    def wait_ready(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.wait_ready(max(deadline - time.monotonic(), 1.0))

    def wait_green(self, timeout: float = 180.0) -> None:
        """Until every shard and replica is allocated (after a node came back)."""
        alive = next(node for node in self.nodes if node.running())
        alive._process.wait_until(
            lambda: health_is(alive.url, len(self.nodes), "green"), time.monotonic() + timeout, "green"
        )


def start_elasticsearch_cluster(base_dir: Path | None = None, *, timeout: float = 300.0) -> ElasticsearchCluster:
    """Start three nodes in `base_dir`/elasticsearch-N (a temporary folder without one) and wait until they
    form one cluster. Call from a thread that outlives the servers (see `process`)."""
    return started(launch_elasticsearch_cluster(base_dir), timeout)


def launch_elasticsearch_cluster(base_dir: Path | None = None) -> ElasticsearchCluster:
    remove = base_dir is None
    base = Path(tempfile.mkdtemp(prefix="conveyor-es-cluster-")) if base_dir is None else base_dir.absolute()
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    names = [f"es-{i}" for i in range(1, NODES + 1)]
    ports = {name: (free_port(), free_port()) for name in names}
    cluster_name = f"conveyor-{uuid.uuid4().hex[:8]}"
    seeds = ",".join(f"127.0.0.1:{transport}" for _, transport in ports.values())
    nodes: list[ElasticsearchNode] = []
    try:
        for name in names:
            http, transport = ports[name]
            settings = {
                "cluster.name": cluster_name,
                "node.name": name,
                "discovery.seed_hosts": seeds,
                # Read only when the cluster first forms; a restarted node finds its cluster in its data.
                "cluster.initial_master_nodes": ",".join(names),
            }
            server = launch_elasticsearch(base / f"elasticsearch-{name[3:]}", http, transport_port=transport,
                                          node=settings, heap=HEAP)  # fmt: skip
            nodes.append(ElasticsearchNode(server.url, server.pid, server.data_dir, server._process, False, name=name))
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return ElasticsearchCluster(nodes, base, remove)


def health_is(url: str, nodes: int, status: str = "yellow") -> bool:
    request = f"{url}/_cluster/health?wait_for_status={status}&wait_for_nodes={nodes}&timeout=1s"
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError:
        return False  # 408 when not there yet
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return not body.get("timed_out") and int(body.get("number_of_nodes", 0)) >= nodes


__all__ = ["ElasticsearchCluster", "ElasticsearchNode", "StartError", "start_elasticsearch_cluster"]
