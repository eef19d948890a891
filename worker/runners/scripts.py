"""Runners of the script tasks, on the Commands runner's process handling (environment allowlist, run-as
user, logs, `::{"outputs": ...}::` lines, kills).

A Script's rendered text is written to a file of its own in the working directory and run as
`python FILE` or `sh FILE`: the text reaches the interpreter as a file, never spliced into a shell line; the
only shell line is the file's path, which the worker made and quotes."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import tempfile
from typing import Any, ClassVar

from conveyor.worker.runners.base import RunContext
from conveyor.worker.runners.commands import CommandsRunner

# The reference's environment for its python tasks: output unbuffered (so log lines arrive as printed).
PYTHON_ENV = {"PYTHONUNBUFFERED": "true", "PIP_ROOT_USER_ACTION": "ignore", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


class PythonCommandsRunner(CommandsRunner):
    base_env: ClassVar[dict[str, str]] = PYTHON_ENV


class _ScriptRunner(CommandsRunner):
    # The programs tried in turn (the first on the worker's PATH runs the script), and the file's suffix.
    programs: ClassVar[tuple[str, ...]]
    suffix: ClassVar[str]

    def main_commands(self, task: Any, ctx: RunContext, cwd: str, user: pwd.struct_passwd | None) -> list[str]:
        path = write_script(str(ctx.render(task.script)), cwd, self.suffix, user)
        return [f"{program(self.programs)} {shlex.quote(path)}"]


class PythonScriptRunner(_ScriptRunner):
    base_env: ClassVar[dict[str, str]] = PYTHON_ENV
    programs = ("python", "python3")
    suffix = ".py"


class ShellScriptRunner(_ScriptRunner):
    programs = ("sh",)
    suffix = ".sh"


def program(names: tuple[str, ...]) -> str:
    """The first of `names` on PATH (the reference runs `python`; many systems only have `python3`)."""
    return next((name for name in names if shutil.which(name)), names[0])


def write_script(text: str, directory: str, suffix: str, user: pwd.struct_passwd | None = None) -> str:
    """A new file in `directory` holding `text` (readable by the task's user), by its absolute path."""
    fd, path = tempfile.mkstemp(prefix="script-", suffix=suffix, dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text if text.endswith("\n") else text + "\n")
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    return os.path.abspath(path)
