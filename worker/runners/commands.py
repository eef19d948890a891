"""The Commands runner: the flow author's commands run by `interpreter`, one process group per attempt.

The rendered commands are joined into one script passed as the interpreter's last argument; environment
values are rendered and passed as environment, never spliced into the script. stdout lines become INFO
logs and stderr lines WARN logs, read concurrently. A line that is exactly `::{json}::` is not logged: it
carries `{"outputs": {...}}` and/or `{"metrics": [{"name", "type", "value", "tags"}]}` (the reference's
convention). On a kill, timeout or shutdown the whole process group gets SIGTERM, then SIGKILL.

The process's environment is the worker's variables named by `CONVEYOR_WORKER_TASK_ENVIRONMENT` (an
allowlist: PATH, HOME, LANG, LC_ALL, TZ, TMPDIR by default) plus the task's `env`: the worker's credentials
never reach a task, nor therefore its log lines. With `CONVEYOR_WORKER_RUN_AS_USER` and a worker running as
root the process runs as that user (its own groups, HOME its home directory, the fresh working directory
its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, ClassVar

from conveyor.common.settings import WorkerSettings
from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.core import Commands
from conveyor.worker.runners import command_files
from conveyor.worker.runners.base import RunContext, RunOutcome
from conveyor.worker.runners.script_lines import script_lines, warn_ignored_options

# SIGTERM first; a process group still alive this long after it gets SIGKILL.
KILL_GRACE = 2.0
# After the interpreter exits, how long its background children may keep stdout/stderr open.
PIPE_GRACE = 2.0


class CommandsRunner:
    def __init__(self, settings: WorkerSettings | None = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> WorkerSettings:
        if self._settings is None:
            self._settings = WorkerSettings()
        return self._settings

    # Environment every process of this runner gets (under the task's own `env`).
    base_env: ClassVar[dict[str, str]] = {}

    def main_commands(self, task: Any, ctx: RunContext, cwd: str, user: pwd.struct_passwd | None) -> list[str]:
        """The commands after `beforeCommands`: the task's own (script tasks write their script into `cwd`)."""
        return list(ctx.render(task.commands))

    def run(self, task: Commands, ctx: RunContext) -> RunOutcome:
        user = _user(self.settings.run_as_user)
        if isinstance(user, str):
            return RunOutcome.failed(user)
        env = task_environment(self.settings.task_environment, os.environ, user)
        env.update({**self.base_env, **{k: str(v) for k, v in ctx.render(task.env).items()}})
        workdir = ctx.render(task.working_directory) if task.working_directory else None
        collector = _Collector(ctx)
        warn_ignored_options(task, ctx)
        with _directory(workdir, user) as cwd:
            problem = command_files.prepare(task, ctx, Path(cwd))
            if problem:
                return RunOutcome.failed(problem)
            main = self.main_commands(task, ctx, cwd, user)
            script = "\n".join(script_lines(task, ctx.render(task.before_commands), main))
            identity: dict[str, Any] = {}
            if user is not None:
                identity = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": _groups(user)}
            proc = subprocess.Popen(
                [*task.interpreter, script],
                cwd=cwd,
                env=env,
                **identity,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            assert proc.stdout is not None and proc.stderr is not None
            readers = [
                threading.Thread(target=collector.read, args=(proc.stdout, LogLevel.INFO), daemon=True),
                threading.Thread(target=collector.read, args=(proc.stderr, LogLevel.WARN), daemon=True),
            ]
            for reader in readers:
                reader.start()
            code = _wait(proc, ctx.stopped)
            _join_readers(proc, readers)
            files, problem = command_files.collect(task, ctx, Path(cwd))
        outputs = {**collector.outputs, "exitCode": code, **files}
        if problem:
            return RunOutcome.failed(problem, outputs)
        if code != 0:
            return RunOutcome.failed(f"command exited with code {code}", outputs)
        return RunOutcome.success(outputs)


class _Collector:
    """Turns output lines into logs, outputs and metrics; shared by the stdout and stderr readers."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.outputs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def read(self, stream: IO[bytes], level: LogLevel) -> None:
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                directive = parse_directive(line)
                if directive is None:
                    self.ctx.log(level, line)
                else:
                    self.apply(directive)

    def apply(self, directive: dict[str, Any]) -> None:
        outputs = directive.get("outputs")
        if isinstance(outputs, dict):
            with self._lock:
                self.outputs.update(outputs)
        for metric in directive.get("metrics") or []:
            problem = _metric_problem(metric)
            if problem:
                self.ctx.log(LogLevel.WARN, f"ignored metric {json.dumps(metric)}: {problem}")
                continue
            self.ctx.metric(metric["name"], float(metric["value"]), metric["type"], metric.get("tags"))


def parse_directive(line: str) -> dict[str, Any] | None:
    """The JSON object of a `::{...}::` line, or None for any other line (which is logged as is)."""
    if not (line.startswith("::{") and line.endswith("}::")):
        return None
    try:
        value = json.loads(line[2:-2])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _metric_problem(metric: Any) -> str | None:
    if not isinstance(metric, dict):
        return "expected an object"
    if not isinstance(metric.get("name"), str) or not metric["name"]:
        return "`name` must be a non-empty string"
    if metric.get("type") not in ("counter", "timer"):
        return "`type` must be counter or timer"
    value = metric.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "`value` must be a number"
    if not isinstance(metric.get("tags", {}), dict):
        return "`tags` must be an object"
    return None


def _wait(proc: subprocess.Popen[bytes], stopped: threading.Event) -> int:
    while proc.poll() is None:
        if stopped.wait(0.05):
            _kill_group(proc)
            break
    return proc.wait()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(KILL_GRACE)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the interpreter's pid


def _join_readers(proc: subprocess.Popen[bytes], readers: list[threading.Thread]) -> None:
    deadline = time.monotonic() + PIPE_GRACE
    for reader in readers:
        reader.join(max(deadline - time.monotonic(), 0.0))
    if any(r.is_alive() for r in readers):
        # Background children still hold the pipes open: the attempt is over, so are they.
        _signal_group(proc, signal.SIGKILL)
        for reader in readers:
            reader.join(PIPE_GRACE)


def task_environment(
    names: list[str], environ: Mapping[str, str], user: pwd.struct_passwd | None = None
) -> dict[str, str]:
    """The worker's variables a task inherits: only those named (an allowlist); HOME, USER and LOGNAME are the
    task user's when it runs as another user."""
    env = {name: environ[name] for name in names if name in environ}
    if user is not None:
        env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    return env


def _user(configured: str | None) -> pwd.struct_passwd | str | None:
    """The user to run as (None: the worker's own), or why that cannot be (a message)."""
    if configured is None:
        return None
    try:
        user = pwd.getpwuid(int(configured)) if configured.isdigit() else pwd.getpwnam(configured)
    except (KeyError, OverflowError):
        return f"CONVEYOR_WORKER_RUN_AS_USER: no user {configured!r} on this worker"
    if user.pw_uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        return (
            f"CONVEYOR_WORKER_RUN_AS_USER is {configured!r}, but the worker does not run as root: it cannot switch user"
        )
    return user


def _groups(user: pwd.struct_passwd) -> list[int]:
    try:
        return [g for g in os.getgrouplist(user.pw_name, user.pw_gid) if g != user.pw_gid]
    except OSError:
        return []


@contextmanager
def _directory(path: str | None, user: pwd.struct_passwd | None = None) -> Iterator[str]:
    if path:
        yield path
        return
    fresh = tempfile.mkdtemp(prefix="conveyor-commands-")
    if user is not None:
        os.chown(fresh, user.pw_uid, user.pw_gid)
    try:
        yield fresh
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
