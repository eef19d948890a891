"""The local stack's services (executor, indexer, server, workers) as child processes of `conveyor up`:
started together, each restarted when it dies, stopped together. Its Kafka and Elasticsearch processes
(one each, or each node of a cluster) are watched too: one that dies is started again on the same ports and
data folder (at most once every `SERVER_RESTART_INTERVAL` seconds, so a server that cannot start does not
spin), and the services, which reconnect by themselves, carry on.

Each service is `conveyor SERVICE` with the environment the supervisor was given, its console in
`HOME/logs/NAME.log`. A name `worker-N` runs the `worker` command with its own worker id.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from conveyor.common.servers.process import RunningServer, ServerProcess, log_tail
from conveyor.common.shutdown import PARENT_DEATH_SIGNAL

log = logging.getLogger(__name__)

STOP_TIMEOUT = 40.0
SERVER_RESTART_INTERVAL = 10.0


class Supervisor:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env: dict[str, str] = {}
        self.services: dict[str, ServerProcess] = {}
        # Kafka and Elasticsearch: name -> the running server, and when each was last started again.
        self.servers: dict[str, RunningServer] = {}
        self._server_restarted: dict[str, float] = {}

    def start(self, names: Iterable[str], env: Mapping[str, str]) -> None:
        self.env = dict(env)
        for name in names:
            self.services[name] = self._spawn(name)

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.services.items()}

    def watch(self, stop: threading.Event, on_restart: Callable[[str, int], None]) -> None:
        """Every second until `stop`: restart the servers and services that died, telling `on_restart` their
        new pid."""
        while not stop.wait(1.0):
            for name in self.restart_dead_servers():
                on_restart(name, self.servers[name].pid)
            for name in self.restart_dead():
                on_restart(name, self.services[name].pid)

    def restart_dead_servers(self) -> list[str]:
        """Start again, on their ports and data, the servers that are not running; their names."""
        now = time.monotonic()
        dead = [
            name
            for name, server in self.servers.items()
            if not server.running() and now - self._server_restarted.get(name, 0.0) >= SERVER_RESTART_INTERVAL
        ]
        for name in dead:
            server = self.servers[name]
            log.error(
                "%s (pid %d) exited; starting it again on its ports and data. Last lines:\n%s",
                name,
                server.pid,
                log_tail(server.log_path, 15),
            )
            server.relaunch()
            self._server_restarted[name] = now
        return dead

    def restart_dead(self) -> list[str]:
        """Restart every service that is not running; their names."""
        dead = [name for name, proc in self.services.items() if not proc.running()]
        for name in dead:
            log.error("%s exited; restarting it. Last lines:\n%s", name, log_tail(self.services[name].log_path, 15))
            self.services[name] = self._spawn(name)
        return dead

    def stop(self) -> None:
        """Stop every service at once (each one may take up to STOP_TIMEOUT seconds to drain)."""
        threads = [
            threading.Thread(target=proc.stop, kwargs={"timeout": STOP_TIMEOUT}) for proc in self.services.values()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _spawn(self, name: str) -> ServerProcess:
        command = name.split("-", 1)[0]
        env = dict(self.env)
        if command == "worker":
            env.setdefault("CONVEYOR_WORKER_WORKER_ID", f"{os.uname().nodename}-{name}")
        if command == "executor":  # the same id when restarted: it fences its killed predecessor at once
            env["CONVEYOR_EXECUTOR_EXECUTOR_ID"] = f"{os.uname().nodename}-{name}"  # never shared by two
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return ServerProcess(
            name,
            [sys.executable, "-m", "conveyor.cli.main", command],
            log_path=logs / f"{name}.log",
            cwd=Path.cwd(),
            env=env,
            parent_death_signal=PARENT_DEATH_SIGNAL,
        )
