"""The core runnable tasks, under the reference's type names. How they run lives in `worker.runners`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from conveyor.common.clock import Duration
from conveyor.common.tasks.base import LogLevel, RunnableTask
from conveyor.common.tasks.script_options import ScriptOptions


class Return(RunnableTask):
    """Renders `format` and returns it as the output `value`."""

    type_names = ("io.kestra.plugin.core.debug.Return", "io.kestra.core.tasks.debugs.Return")
    format: str | None = None


class Log(RunnableTask):
    """Logs `message` (one line per item when it is a list) at `level`."""

    type_names = ("io.kestra.plugin.core.log.Log", "io.kestra.core.tasks.log.Log")
    message: str | list[str]
    level: LogLevel = LogLevel.INFO


class Sleep(RunnableTask):
    """Waits `duration` (ISO-8601); a kill interrupts it."""

    type_names = ("io.kestra.plugin.core.flow.Sleep",)
    duration: Duration


class Fail(RunnableTask):
    """Fails with `errorMessage` (when `condition`, if given, renders truthy)."""

    type_names = ("io.kestra.plugin.core.execution.Fail", "io.kestra.core.tasks.executions.Fail")
    error_message: str = "Task failure"
    condition: str | None = None


class Commands(ScriptOptions, RunnableTask):
    """Runs shell `commands` the flow author wrote (after `beforeCommands`); stdout/stderr lines become logs."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.scripts.shell.Commands",
        "io.kestra.core.tasks.scripts.Bash",
    )
    commands: list[str] = Field(min_length=1)
    env: dict[str, str] = {}
    working_directory: str | None = None
