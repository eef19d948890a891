"""`conveyor up | down`: the whole local stack on this machine.

`up` starts a real Kafka and a real Elasticsearch (fetched and cached on first use, free loopback ports;
`--cluster`: three Kafka brokers and three Elasticsearch nodes), creates the topics, and runs the executor,
the worker(s), the indexer and the server as child processes, restarting any of them, and any server
process, that dies (`supervisor.py`). It writes `$CONVEYOR_HOME/stack.json` (default `~/.conveyor`,
`statefile.py`) so that every other command finds the servers without configuration. Ctrl-C (or
`conveyor down`) stops everything; `up --detach` runs it in the background (`detach.py`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from conveyor.cli.credentials import local_admin_file
from conveyor.cli.detach import up_detached
from conveyor.cli.flags import GlobalFlags
from conveyor.cli.output import err_console
from conveyor.cli.probes import server_ok
from conveyor.cli.statefile import read_state, remove_state, write_state
from conveyor.cli.supervisor import Supervisor
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.logsetup import configure_logging
from conveyor.common.procfs import alive
from conveyor.common.servers import start_local_servers, user
from conveyor.common.servers.local import start_local_cluster
from conveyor.common.servers.process import RunningServer, ServerProcess
from conveyor.common.settings import conveyor_home
from conveyor.common.shutdown import stop_on_signals

log = logging.getLogger(__name__)


def up(
    detach: bool, workers: int, flags: GlobalFlags, timeout: float = 300.0, cluster: bool = False, executors: int = 1
) -> int:
    existing = read_state()
    if existing is not None:
        err_console.print(f"the local stack is already up (pid {existing['pid']}); `conveyor down` stops it")
        return 0
    if detach:
        env = {**os.environ, **flags.environ()}
        return up_detached(workers, timeout, env, cluster=cluster, executors=executors)
    return _up_foreground(workers, flags, cluster, executors)


class _Servers:
    """Kafka and Elasticsearch of the stack: where clients reach them, and each process by name."""

    def __init__(self, data: Path, cluster: bool) -> None:
        self.processes: dict[str, RunningServer] = {}
        if cluster:
            kafka, es = start_local_cluster(data)
            self.bootstrap, self.es_url = kafka.bootstrap, es.urls
            self.processes |= {f"kafka-{node.node_id}": node for node in kafka.nodes}
            self.processes |= {f"elasticsearch-{node.name[3:]}": node for node in es.nodes}
            self._stop: list[Any] = [es.stop, kafka.stop]
        else:
            kafka_server, es_server = start_local_servers(data)
            self.bootstrap, self.es_url = kafka_server.bootstrap, es_server.url
            self.processes |= {"kafka": kafka_server, "elasticsearch": es_server}
            self._stop = [es_server.stop, kafka_server.stop]

    def pids(self) -> dict[str, int]:
        return {name: server.pid for name, server in self.processes.items()}

    def stop(self) -> None:
        for stop in self._stop:
            stop()


def _up_foreground(workers: int, flags: GlobalFlags, cluster: bool = False, executors: int = 1) -> int:
    """The servers and the services until SIGINT/SIGTERM; then all of them stop and the state file goes."""
    configure_logging(service="up")
    stop = stop_on_signals()
    home = conveyor_home()
    data = _fresh_data_dir(home)
    servers = _Servers(data, cluster)
    supervisor = Supervisor(home)
    supervisor.servers = servers.processes
    try:
        ensure_topics(flags.kafka(bootstrap=servers.bootstrap))
        host, port = os.environ.get("CONVEYOR_SERVER_HOST", "127.0.0.1"), _server_port()
        server_url = f"http://{host}:{port}"
        supervisor.start(service_names(workers, executors), _service_env(flags, servers, host, port))
        _wait_for_server(server_url, supervisor.services["server"], stop)
        state = _ready_state(servers, server_url, supervisor, data)
        write_state(state)
        log.info("local stack up: kafka %s, elasticsearch %s", servers.bootstrap, servers.es_url)
        log.info("the server's admin user and password (the CLI uses them for this stack): %s", local_admin_file())
        supervisor.watch(stop, on_restart=lambda name, pid: _record_restart(state, name, pid))
    finally:
        log.info("stopping the local stack")
        supervisor.stop()
        servers.stop()
        remove_state()
    return 0


def _fresh_data_dir(home: Path) -> Path:
    """An empty `HOME/data`: a fresh cluster each time, since its ports and ids are new."""
    data = home / "data"
    shutil.rmtree(data, ignore_errors=True)
    # Elasticsearch's folders where its user could not reach `data` (`servers/user.py`) go too.
    for node in [data / "elasticsearch", *(data / "elasticsearch" / f"elasticsearch-{i}" for i in (1, 2, 3))]:
        user.forget(node)
    data.mkdir(parents=True)
    return data


def service_names(workers: int, executors: int = 1) -> list[str]:
    """The supervised services: `executor` (then `executor-2`..`executor-N`: the first keeps the name a
    one-executor stack always had), the scheduler, indexer and server, `worker-1`..`worker-N`."""
    extra = [f"executor-{i + 1}" for i in range(1, executors)]
    return ["executor", *extra, "scheduler", "indexer", "server", *(f"worker-{i + 1}" for i in range(workers))]


def _service_env(flags: GlobalFlags, servers: _Servers, host: str, port: int) -> dict[str, str]:
    """The services' environment: ours with the global flags, pointed at the local servers."""
    from conveyor.cli.credentials import local_admin_env

    return {
        **os.environ,
        **flags.environ(),
        # the server's users: those configured, plus the local admin (`cli/credentials.py`)
        **local_admin_env(dict(os.environ)),
        "CONVEYOR_KAFKA_BOOTSTRAP": servers.bootstrap,
        "CONVEYOR_ELASTICSEARCH_URL": servers.es_url,
        "CONVEYOR_SERVER_HOST": host,
        "CONVEYOR_SERVER_PORT": str(port),
    }


def _ready_state(servers: _Servers, server_url: str, supervisor: Supervisor, data: Path) -> dict[str, Any]:
    pids = servers.pids()
    return {
        "pid": os.getpid(),
        "ready": True,
        "kafkaBootstrap": servers.bootstrap,
        "elasticsearchUrl": servers.es_url,
        "serverUrl": server_url,
        "kafkaPid": pids.get("kafka", pids.get("kafka-1")),
        "elasticsearchPid": pids.get("elasticsearch", pids.get("elasticsearch-1")),
        # every Kafka and Elasticsearch process by name (kafka-1..3, elasticsearch-1..3 on a cluster)
        "servers": pids,
        "services": supervisor.pids(),
        "dataDir": str(data),
        "adminCredentials": str(local_admin_file()),
        "startedAt": time.time(),
    }


def _record_restart(state: dict[str, Any], name: str, pid: int) -> None:
    if name in state["servers"]:
        state["servers"][name] = pid
        if name in ("kafka", "kafka-1"):
            state["kafkaPid"] = pid
        if name in ("elasticsearch", "elasticsearch-1"):
            state["elasticsearchPid"] = pid
    else:
        state["services"][name] = pid
    write_state(state)


def _wait_for_server(url: str, proc: ServerProcess, stop: threading.Event, timeout: float = 60.0) -> None:
    """Until the server answers (so `up --detach` returns with the page reachable), its process dies, or
    `timeout`; the supervisor restarts a server that died."""
    deadline = time.monotonic() + timeout
    while not stop.is_set() and proc.running() and time.monotonic() < deadline:
        if server_ok(url):
            return
        stop.wait(0.2)
    if not stop.is_set():
        log.warning("the server at %s does not answer yet; see %s", url, proc.log_path)


def _server_port() -> int:
    """CONVEYOR_SERVER_PORT if set, else 8080 when free, else any free port."""
    if os.environ.get("CONVEYOR_SERVER_PORT"):
        return int(os.environ["CONVEYOR_SERVER_PORT"])
    for port in (8080, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port for the server")


def down(timeout: float = 90.0) -> int:
    """SIGTERM to the local stack, SIGKILL if it has not stopped within `timeout` seconds."""
    state = read_state()
    if state is None:
        err_console.print("no local stack is running")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    with err_console.status("stopping the local stack…"):
        _wait_exited(pid, time.monotonic() + timeout)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    err_console.print("local stack stopped")
    return 0


def _wait_exited(pid: int, deadline: float) -> None:
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
