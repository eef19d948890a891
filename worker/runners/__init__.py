"""Runners, found through the `conveyor.runners` entry point group: task type name -> runner.

The core runners are registered in Conveyor's own pyproject.toml; a plugin package adds its own the same way,
next to its task class (see `conveyor.common.tasks.registry`):

    [project.entry-points."conveyor.runners"]
    "com.example.MyTask" = "my_package.runners:MyTaskRunner"

The name is the task's canonical type; aliases find the runner through the task class's `canonical_type()`.
The value is a runner class (instantiated once, with no arguments) or a runner instance; it must be safe to
call from several threads at once.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from conveyor.common.tasks.base import Task
from conveyor.worker.errors import UnknownTaskType
from conveyor.worker.runners.base import RunContext, Runner, RunOutcome, StopReason

log = logging.getLogger(__name__)

GROUP = "conveyor.runners"


@cache
def runners() -> dict[str, Runner[Any]]:
    """Every registered runner by the type name it was registered under."""
    found: dict[str, Runner[Any]] = {}
    for ep in entry_points(group=GROUP):
        try:
            obj = ep.load()
            found[ep.name] = obj() if isinstance(obj, type) else obj
        except Exception:  # a broken plugin must not stop the other runners from loading
            log.exception("could not load runner %s = %s", ep.name, ep.value)
    return found


def runner_for(task: Task) -> Runner[Any]:
    registered = runners()
    runner = registered.get(type(task).canonical_type()) or registered.get(task.type)
    if runner is None:
        raise UnknownTaskType(
            f"no runner for task type {task.type!r} on this worker (runners: {', '.join(sorted(registered)) or 'none'})"
        )
    return runner


__all__ = ["RunContext", "RunOutcome", "Runner", "StopReason", "runner_for", "runners"]
