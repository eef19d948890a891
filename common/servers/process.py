"""The server child processes: their own session, dying with us, stopped as a group.

Each server runs in its own session, so `stop()` reaches every process it forked (Elasticsearch's
launcher starts the real server as a child), and a Ctrl-C in our terminal reaches only us, which
then stops the servers in order. On Linux each one also gets PR_SET_PDEATHSIG, so a server never
outlives a parent that was killed outright. The kernel ties that signal to the *thread* that
spawned the child, so spawn from a thread that lives as long as the server (the main thread).
"""

from __future__ import annotations

import ctypes
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from conveyor.common.servers.errors import StartError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 20.0


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen` (None off Linux): the child gets `sig` when the thread that
    spawns it ends, the whole parent process included (PR_SET_PDEATHSIG), and exits at once if that parent
    died before the signal was armed. Spawn from a thread that lives as long as the child (the main thread).
    The kernel sends `sig` again for each thread of a dead parent that ends: a JVM shuts down once on
    SIGTERM; a Conveyor service is given `shutdown.PARENT_DEATH_SIGNAL`, whose repeats do not make it exit
    before its drain."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: no signal will come
            os._exit(1)

    return preexec


def free_port() -> int:
    """A loopback port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def log_tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log, after its last errors (a JVM's shutdown chatter buries the cause)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(no log at {path}: {error})"
    tail = text[-lines:]
    errors = [line for line in text[:-lines] if " ERROR " in line or " FATAL " in line or "Exception" in line]
    return "\n".join([*errors[-10:], *(["..."] if errors else []), *tail])


class ServerProcess:
    """One running server: its process group, its console log, and a stop that always finishes."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path,
        env: Mapping[str, str],
        user: str | None = None,
        server_log: Path | None = None,
        parent_death_signal: int = signal.SIGTERM,
    ) -> None:
        """Start `argv` with its output in `log_path`; `server_log` is where it logs by itself;
        `parent_death_signal` is what it gets if we die (`die_with_parent`)."""
        self.name = name
        self.log_path = log_path
        self.server_log = server_log
        self._lock = threading.Lock()
        self._argv, self._cwd, self._env, self._user = list(argv), cwd, dict(env), user
        self._parent_death_signal = parent_death_signal
        with log_path.open("ab") as console:
            self._popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                preexec_fn=die_with_parent(parent_death_signal),
                user=user,
                group=None if user is None else _primary_group(user),
                extra_groups=None if user is None else [],
            )
        log.info("started %s", name, extra={"pid": self.pid, "log": str(log_path)})

    @property
    def pid(self) -> int:
        return self._popen.pid

    def running(self) -> bool:
        return self._popen.poll() is None

    def respawn(self) -> ServerProcess:
        """The same command started again (same ports and data: they are in its arguments and files); stop or
        kill this one first."""
        return ServerProcess(
            self.name,
            self._argv,
            log_path=self.log_path,
            cwd=self._cwd,
            env=self._env,
            user=self._user,
            server_log=self.server_log,
            parent_death_signal=self._parent_death_signal,
        )

    def kill(self) -> None:
        """SIGKILL to the whole group, as a crash would; returns once the process is reaped."""
        with self._lock:
            self._signal(signal.SIGKILL)
            self._popen.wait()
            log.info("killed %s", self.name, extra={"pid": self.pid})

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def failure(self, reason: str) -> StartError:
        tails = [
            f"from {path.name}:\n{log_tail(path)}"
            for path in (self.log_path, self.server_log)
            if path is not None and path.exists() and path.stat().st_size
        ]
        return StartError("\n".join([f"{self.name} {reason}", *tails]))

    def wait_until(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        """Poll `ready` until it holds; fail early if the server exits, late at the deadline."""
        while True:
            if not self.running():
                raise self.failure(f"exited with code {self._popen.returncode} before {what}")
            if ready():
                return
            if time.monotonic() > deadline:
                raise self.failure(f"was not {what} in time")
            time.sleep(0.2)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the whole group, then SIGKILL after `timeout`. Safe to call twice."""
        with self._lock:
            if not self._signal(signal.SIGTERM):
                self._popen.wait()
                return
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._group_alive():
                time.sleep(0.1)
            if self._group_alive():
                log.warning("%s ignored SIGTERM for %.0f s; killing it", self.name, timeout)
                self._signal(signal.SIGKILL)
            self._popen.wait()
            log.info("stopped %s", self.name, extra={"pid": self.pid})

    def _signal(self, sig: int) -> bool:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def _group_alive(self) -> bool:
        # Reap our own child first, or its zombie would keep the group "alive".
        self._popen.poll()
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        return True


def _primary_group(user: str) -> int:
    return pwd.getpwnam(user).pw_gid


def run_checked(name: str, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> None:
    """Run a short setup command (formatting storage) and fail with its output."""
    result = subprocess.run(
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise StartError(f"{name} failed with code {result.returncode}:\n{output}")


class _Stopped:
    """Use as a context manager: `stop()` at the end of the block."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class RunningServer(_Stopped):
    """What a started server offers besides its address: `stop()` (also removing a temporary data folder),
    and use as a context manager. Subclasses are dataclasses with `data_dir`, `_process`, `_remove_data_dir`."""

    data_dir: Path
    pid: int
    _process: ServerProcess
    _remove_data_dir: bool

    def running(self) -> bool:
        return self._process.running()

    def kill(self) -> None:
        """SIGKILL (a crash): its data stays for `restart()`."""
        self._process.kill()

    def restart(self, timeout: float = 120.0) -> None:
        """Start it again on the same ports and data (after `kill()`, `stop_process()` or a crash) and wait
        until it is ready."""
        self.relaunch()
        self.wait_ready(timeout)

    def relaunch(self) -> None:
        """Start it again on the same ports and data without waiting (`wait_ready()` does that)."""
        if self._process.running():
            self._process.stop()
        self._process = self._process.respawn()
        self.pid = self._process.pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        raise NotImplementedError

    def stop_process(self) -> None:
        """SIGTERM and wait, keeping the data (a clean restart: `restart()` starts it again)."""
        self._process.stop()

    @property
    def log_path(self) -> Path:
        """Where it logs: its own log file (Kafka's server.log) if it keeps one, else its console."""
        return self._process.server_log or self._process.log_path

    def stop(self) -> None:
        self._process.stop()
        if self._remove_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class ServerCluster(_Stopped):
    """What a started cluster offers besides its addresses: `stop()` of every node (also removing a temporary
    base folder), and use as a context manager. Subclasses are dataclasses with `nodes`, `base_dir` and
    `_remove_base_dir`, and a `wait_ready(timeout)`."""

    nodes: Sequence[RunningServer]
    base_dir: Path
    _remove_base_dir: bool

    def wait_ready(self, timeout: float) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self._remove_base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)


C = TypeVar("C", bound=ServerCluster)


def started(cluster: C, timeout: float) -> C:
    """`cluster` once `wait_ready` says so; stopped (every node) if it fails or times out."""
    try:
        cluster.wait_ready(timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster
