"""`conveyor up | down | status`: the whole local stack on this machine.

`up` starts a real Kafka and a real Elasticsearch (fetched and cached on first use, free loopback ports),
creates the topics, and runs the executor, the worker(s) and the indexer as child processes, restarting
any that dies. It writes `$CONVEYOR_HOME/stack.json` (default `~/.conveyor`) so that every other command
finds the servers without configuration. Ctrl-C (or `conveyor down`) stops everything.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from conveyor.cli.output import console, err_console, print_json, table
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.logsetup import configure_logging
from conveyor.common.servers import start_local_servers
from conveyor.common.servers.process import ServerProcess, log_tail
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings, conveyor_home
from conveyor.common.shutdown import stop_on_signals

log = logging.getLogger(__name__)


def state_file() -> Path:
    return conveyor_home() / "stack.json"


def read_state() -> dict[str, Any] | None:
    try:
        data = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not _alive(int(data.get("pid", 0))):
        return None
    return data


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is not alive
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def up(detach: bool, workers: int, timeout: float = 300.0) -> int:
    existing = read_state()
    if existing is not None:
        err_console.print(f"the local stack is already up (pid {existing['pid']}); `conveyor down` stops it")
        return 0
    if detach:
        return _up_detached(workers, timeout)
    return _up_foreground(workers)


def _up_detached(workers: int, timeout: float) -> int:
    home = conveyor_home()
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "up.log"
    with log_path.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", "up", "--workers", str(workers)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    with err_console.status("starting Kafka, Elasticsearch and the services…"):
        while time.monotonic() < deadline:
            state = read_state()
            if state is not None and state.get("pid") == child.pid and state.get("ready"):
                err_console.print(f"local stack up (pid {child.pid}); logs in {log_path}")
                if state.get("serverUrl"):
                    err_console.print(f"Task Runs page and API: {state['serverUrl']} (API docs at /docs)")
                return 0
            if child.poll() is not None:
                err_console.print(f"[red]the local stack failed to start[/red]:\n{log_tail(log_path)}")
                return 3
            time.sleep(0.3)
    err_console.print(f"[red]the local stack was not ready after {timeout:.0f}s[/red]; see {log_path}")
    child.terminate()
    return 3


def _up_foreground(workers: int) -> int:
    configure_logging(service="up")
    stop = stop_on_signals()
    home = conveyor_home()
    data = home / "data"
    shutil.rmtree(data, ignore_errors=True)  # a fresh cluster each time: ports and ids are new
    data.mkdir(parents=True)
    kafka_server, es_server = start_local_servers(data)
    services: dict[str, ServerProcess] = {}
    try:
        kafka = KafkaSettings(bootstrap=kafka_server.bootstrap)
        ensure_topics(kafka)
        host, port = os.environ.get("CONVEYOR_SERVER_HOST", "127.0.0.1"), _server_port()
        env = {
            **os.environ,
            "CONVEYOR_KAFKA_BOOTSTRAP": kafka_server.bootstrap,
            "CONVEYOR_ELASTICSEARCH_URL": es_server.url,
            "CONVEYOR_SERVER_HOST": host,
            "CONVEYOR_SERVER_PORT": str(port),
        }
        names = ["executor", "indexer", "server", *(f"worker-{i + 1}" for i in range(workers))]
        for name in names:
            services[name] = _service(name, env, home)
        _wait_for_server(f"http://{host}:{port}", services["server"], stop)
        state = {
            "pid": os.getpid(),
            "ready": True,
            "kafkaBootstrap": kafka_server.bootstrap,
            "elasticsearchUrl": es_server.url,
            "serverUrl": f"http://{host}:{port}",
            "kafkaPid": kafka_server.pid,
            "elasticsearchPid": es_server.pid,
            "services": {name: proc.pid for name, proc in services.items()},
            "dataDir": str(data),
            "startedAt": time.time(),
        }
        _write_state(state)
        log.info("local stack up: kafka %s, elasticsearch %s", kafka_server.bootstrap, es_server.url)
        _supervise(services, env, home, state, stop)
    finally:
        log.info("stopping the local stack")
        _stop_services(services)
        es_server.stop()
        kafka_server.stop()
        with _suppress_missing():
            state_file().unlink()
    return 0


def _wait_for_server(url: str, proc: ServerProcess, stop: threading.Event, timeout: float = 60.0) -> None:
    """Until the server answers (so `up --detach` returns with the page reachable), its process dies, or
    `timeout`; the supervisor restarts a server that died."""
    deadline = time.monotonic() + timeout
    while not stop.is_set() and proc.running() and time.monotonic() < deadline:
        if _server_ok(url):
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


def _service(name: str, env: dict[str, str], home: Path) -> ServerProcess:
    command = name.split("-", 1)[0]
    child_env = dict(env)
    if command == "worker":
        child_env.setdefault("CONVEYOR_WORKER_WORKER_ID", f"{os.uname().nodename}-{name}")
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        name,
        [sys.executable, "-m", "conveyor.cli.main", command],
        log_path=logs / f"{name}.log",
        cwd=Path.cwd(),
        env=child_env,
    )


def _supervise(
    services: dict[str, ServerProcess],
    env: dict[str, str],
    home: Path,
    state: dict[str, Any],
    stop: threading.Event,
) -> None:
    while not stop.wait(1.0):
        for name, proc in list(services.items()):
            if not proc.running():
                log.error("%s exited; restarting it. Last lines:\n%s", name, log_tail(proc.log_path, 15))
                services[name] = _service(name, env, home)
                state["services"][name] = services[name].pid
                _write_state(state)


def _stop_services(services: dict[str, ServerProcess]) -> None:
    threads = [threading.Thread(target=proc.stop, kwargs={"timeout": 40.0}) for proc in services.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _write_state(state: dict[str, Any]) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


class _suppress_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *_: Any) -> bool:
        return kind is not None and issubclass(kind, FileNotFoundError)


def down(timeout: float = 90.0) -> int:
    state = read_state()
    if state is None:
        err_console.print("no local stack is running")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with err_console.status("stopping the local stack…"):
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    err_console.print("local stack stopped")
    return 0


def status(output: str) -> int:
    from conveyor.common.elastic import describe

    state = read_state()
    kafka, es = KafkaSettings(), ElasticsearchSettings()
    kafka_error, es_error = _kafka_error(kafka), _es_error(es)
    secret = "**********"
    report: dict[str, Any] = {
        "localStack": state is not None,
        "kafka": {
            "bootstrap": kafka.bootstrap,
            "reachable": kafka_error is None,
            "error": kafka_error,
            "securityProtocol": kafka.security_protocol,
            "saslMechanism": kafka.sasl_mechanism,
            "saslUsername": kafka.sasl_username,
            "saslPassword": secret if kafka.sasl_password else None,
            "sslCaLocation": kafka.ssl_ca_location,
            "sslKeyPassword": secret if kafka.ssl_key_password else None,
        },
        "elasticsearch": {
            # `describe` drops any user:password written into the URL
            "url": describe(es),
            "reachable": es_error is None,
            "error": es_error,
            "username": es.username,
            "password": secret if es.password else None,
            "apiKey": secret if es.api_key else None,
            "caCerts": es.ca_certs,
        },
        "services": {
            name: {"pid": pid, "alive": _alive(pid)} for name, pid in (state or {}).get("services", {}).items()
        },
    }
    server_url = (state or {}).get("serverUrl")
    if server_url:
        report["server"] = {"url": server_url, "reachable": _server_ok(server_url)}
    if output == "json":
        print_json(report)
    else:
        rows = [
            ["kafka", kafka.describe(), _ok(kafka_error is None, kafka_error)],
            ["elasticsearch", describe(es), _ok(es_error is None, es_error)],
        ]
        rows += [[name, f"pid {s['pid']}", _ok(s["alive"])] for name, s in report["services"].items()]
        if server_url:
            rows.append(["web page and API", server_url, _ok(report["server"]["reachable"])])
        console.print(table("Conveyor" + (" (local stack)" if state else ""), ["component", "where", "status"], rows))
    healthy = kafka_error is None and es_error is None
    return 0 if healthy else 3


def _ok(flag: bool, error: str | None = None) -> str:
    if flag:
        return "[green]up[/green]"
    return "[red]down[/red]" + (f" ({error})" if error else "")


def _server_ok(url: str) -> bool:
    """The server answers its health endpoint (200, or 503 while Elasticsearch is away)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/api/v1/health", timeout=3) as answer:
            return bool(answer.status == 200)
    except urllib.error.HTTPError as exc:
        return exc.code == 503
    except (OSError, ValueError):
        return False


def _kafka_error(settings: KafkaSettings) -> str | None:
    """None when Kafka answers with these settings' credentials, else why not (never a secret)."""
    from conveyor.common.kafka.errors import KafkaError
    from conveyor.common.kafka.verify import connect

    try:
        connect(settings, timeout=3)
        return None
    except KafkaError as exc:
        return str(exc)


def _es_error(settings: ElasticsearchSettings) -> str | None:
    from conveyor.common.elastic import elasticsearch_client

    try:
        # cluster health, not ping(): the integration-test distribution answers 405 on `HEAD /`
        health = elasticsearch_client(settings).options(max_retries=0).cluster.health(timeout="3s")["status"]
    except Exception as exc:
        return type(exc).__name__ + (f" {exc.status_code}" if hasattr(exc, "status_code") else "")
    return None if health in ("green", "yellow") else f"cluster health {health}"
