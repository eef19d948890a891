"""The reference's script tasks: an inline `script` run by python or the shell, and python's Commands.
How they run lives in `worker.runners.scripts` (on the Commands runner's process handling)."""

from __future__ import annotations

from pydantic import Field

from conveyor.common.tasks.base import RunnableTask
from conveyor.common.tasks.core import Commands
from conveyor.common.tasks.script_options import ScriptOptions


class PythonCommands(Commands):
    """Shell `commands` (typically `python main.py`) with python's unbuffered output."""

    type_names = ("io.kestra.plugin.scripts.python.Commands",)


class Script(ScriptOptions, RunnableTask):
    """An inline script the flow author wrote, rendered, written to a file in the working directory and run."""

    script: str = Field(min_length=1)
    env: dict[str, str] = {}
    working_directory: str | None = None


class PythonScript(Script):
    """`script` run by `python`."""

    type_names = ("io.kestra.plugin.scripts.python.Script",)


class ShellScript(Script):
    """`script` run by `sh`."""

    type_names = ("io.kestra.plugin.scripts.shell.Script",)
