"""`conveyor up --detach`: `conveyor up` again, in its own session in the background, its console in
`$CONVEYOR_HOME/up.log`; this command returns once the state file says that child is ready."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.markup import escape

from conveyor.cli.output import err_console
from conveyor.cli.statefile import read_state
from conveyor.common.servers.process import log_tail
from conveyor.common.settings import conveyor_home

EXIT_OK, EXIT_UNAVAILABLE = 0, 3


def up_detached(
    workers: int, timeout: float, env: Mapping[str, str], *, cluster: bool = False, executors: int = 1
) -> int:
    """0 once the background stack, started with the environment `env`, is ready; 3 when it died first or
    was not ready within `timeout` seconds (then it is stopped)."""
    home = conveyor_home()
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "up.log"
    child = _spawn(workers, log_path, env, cluster, executors)
    with err_console.status("starting Kafka, Elasticsearch and the services…"):
        code = _wait_ready(child, log_path, time.monotonic() + timeout)
    if code is None:
        err_console.print(f"[red]the local stack was not ready after {timeout:.0f}s[/red]; see {log_path}")
        child.terminate()
        return EXIT_UNAVAILABLE
    return code


def _spawn(
    workers: int, log_path: Path, env: Mapping[str, str], cluster: bool, executors: int = 1
) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", "up", "--workers", str(workers), "--executors", str(executors)]
            + (["--cluster"] if cluster else []),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )


def _wait_ready(child: subprocess.Popen[bytes], log_path: Path, deadline: float) -> int | None:
    """The exit code once the child is ready or has died, None when `deadline` came first."""
    while time.monotonic() < deadline:
        state = read_state()
        if _ready(state, child.pid):
            _announce(state or {}, child.pid, log_path)
            return EXIT_OK
        if child.poll() is not None:
            err_console.print(f"[red]the local stack failed to start[/red]:\n{escape(log_tail(log_path))}")
            return EXIT_UNAVAILABLE
        time.sleep(0.3)
    return None


def _ready(state: dict[str, Any] | None, pid: int) -> bool:
    return state is not None and state.get("pid") == pid and bool(state.get("ready"))


def _announce(state: dict[str, Any], pid: int, log_path: Path) -> None:
    err_console.print(f"local stack up (pid {pid}); logs in {log_path}")
    if state.get("serverUrl"):
        err_console.print(f"Task Runs page and API: {state['serverUrl']} (API docs at /docs)")
    if state.get("adminCredentials"):
        err_console.print(
            f"admin user and password (0600, the CLI uses them for this stack): {state['adminCredentials']}"
        )
