"""A single-node Elasticsearch on loopback ports, from the integ-test-zip distribution.

That distribution is the server plus four modules: transport-netty4, apm, x-pack-core and
x-pack-security. Security must be switched off (else it turns on TLS by itself). What is missing
compared with the full distribution: `GET /` and `HEAD /` (rest-root: `info()` fails, `ping()` is
False; use `cluster.health()`), scripts (lang-painless), and `_reindex`, `_update_by_query`,
`_delete_by_query` (reindex). Index and component templates, bulk, search with aggregations,
search_after, point in time, aliases and external versioning all work.

Elasticsearch refuses to run as root: under root it runs as the system user `conveyor-es`, created
on first use, and everything it touches must be reachable by that user (see `user.py`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.common.servers import user
from conveyor.common.servers.java import java_home
from conveyor.common.servers.maven import elasticsearch_home
from conveyor.common.servers.process import RunningServer, ServerProcess, free_port, port_open

log = logging.getLogger(__name__)

HEAP = "-Xms512m -Xmx1g"


@dataclass
class ElasticsearchServer(RunningServer):
    """A running node; `url` is its `http://host:port`. Stop it, or use it as a context manager."""

    url: str
    pid: int
    data_dir: Path
    _process: ServerProcess = field(repr=False)
    _remove_data_dir: bool = field(default=False, repr=False)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the cluster health is at least yellow."""
        deadline = time.monotonic() + timeout
        port = int(self.url.rsplit(":", 1)[1])
        try:
            self._process.wait_until(lambda: port_open(port), deadline, "listening")
            self._process.wait_until(lambda: _healthy(self.url), deadline, "healthy")
        except BaseException:
            self.stop()
            raise


def start_elasticsearch(
    data_dir: Path | None = None, port: int | None = None, *, timeout: float = 120.0
) -> ElasticsearchServer:
    """Start Elasticsearch and wait until it is healthy.

    `data_dir` keeps its config, data and logs across restarts; without one, a temporary folder is
    used and removed by `stop()`. Call from a thread that outlives the server (see `process`).
    """
    server = launch_elasticsearch(data_dir, port)
    server.wait_ready(timeout)
    return server


def launch_elasticsearch(
    data_dir: Path | None = None,
    port: int | None = None,
    *,
    transport_port: int | None = None,
    node: dict[str, str] | None = None,
    heap: str = HEAP,
) -> ElasticsearchServer:
    """Start the Elasticsearch process without waiting for it; `wait_ready()` does that.

    `node` replaces the single-node discovery with a cluster's settings (`elasticsearch_cluster.py`)."""
    home = elasticsearch_home()
    runs_as = user.elasticsearch_user()
    remove = data_dir is None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="conveyor-elasticsearch-"))
    else:
        data_dir = user.reachable_dir(data_dir.absolute(), runs_as)
    config, data, logs, tmp = (data_dir / name for name in ("config", "data", "logs", "tmp"))
    for path in (config, tmp):
        shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(home / "config", config)
    for path in (data, logs, tmp):
        path.mkdir(parents=True, exist_ok=True)
    _point_jvm_files_at(config / "jvm.options", data, logs)
    if runs_as is not None:
        user.give(runs_as, data_dir, config, data, logs, tmp)
        home = user.readable_home(home, data_dir, runs_as)
    port = port or free_port()
    settings = {
        **(node or {"cluster.name": "conveyor", "node.name": "conveyor-local", "discovery.type": "single-node"}),
        "http.host": "127.0.0.1",
        "http.port": str(port),
        "transport.host": "127.0.0.1",
        "transport.port": str(transport_port or free_port()),
        "path.data": str(data),
        "path.logs": str(logs),
        "xpack.security.enabled": "false",
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
    }
    env = {key: value for key, value in os.environ.items() if key not in ("JAVA_HOME", "JAVA_TOOL_OPTIONS")}
    env |= {
        "ES_JAVA_HOME": str(java_home()),
        "ES_JAVA_OPTS": heap,
        "ES_PATH_CONF": str(config),
        "ES_TMPDIR": str(tmp),
    }
    name = (node or {}).get("node.name")
    process = ServerProcess(
        f"Elasticsearch {name + ' ' if name else ''}on 127.0.0.1:{port}",
        [str(home / "bin" / "elasticsearch"), *(f"-E{key}={value}" for key, value in settings.items())],
        log_path=data_dir / "console.log",
        cwd=data_dir,
        env=env,
        user=runs_as,
    )
    return ElasticsearchServer(f"http://127.0.0.1:{port}", process.pid, data_dir, process, remove)


def _point_jvm_files_at(jvm_options: Path, data: Path, logs: Path) -> None:
    # The shipped options write GC logs (up to 2 GB) and crash files relative to ES_HOME, which
    # may be read-only for the server; keep them in this node's folders, and small.
    text = jvm_options.read_text()
    for old, new in {
        "file=logs/": f"file={logs}/",
        "ErrorFile=logs/": f"ErrorFile={logs}/",
        "HeapDumpPath=data": f"HeapDumpPath={data}",
        "filecount=32,filesize=64m": "filecount=2,filesize=16m",
    }.items():
        text = text.replace(old, new)
    jvm_options.write_text(text)


def _healthy(url: str) -> bool:
    request = f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s"
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
