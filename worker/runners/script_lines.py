"""What Commands and the script tasks share before their process starts: the lines of the one script the
interpreter gets (`set -e` under `failFast`, `beforeCommands`, the main commands) and the warning for options
the Process task runner has no use for."""

from __future__ import annotations

import os

from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.script_options import ScriptOptions
from conveyor.worker.runners.base import RunContext

# Interpreters that read `set -e` (the reference adds it for every non-Windows target; other interpreters,
# such as `python -c`, would fail on it).
POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "zsh", "busybox"})


def script_lines(task: ScriptOptions, before: list[str], main: list[str]) -> list[str]:
    fail_fast = ["set -e"] if task.fail_fast and os.path.basename(task.interpreter[0]) in POSIX_SHELLS else []
    return [*fail_fast, *before, *main]


def warn_ignored_options(task: ScriptOptions, ctx: RunContext) -> None:
    if task.container_image:
        ctx.log(
            LogLevel.WARN,
            f"containerImage {task.container_image!r} is ignored: the Process task runner runs the commands"
            " as a process of the worker",
        )
