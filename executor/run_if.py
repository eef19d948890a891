"""`runIf` on any task, as the reference decides it: rendered when the task run is created (before its first
attempt is sent, or before a flowable creates children). False (`false`, `0`, `-0`, the empty string) makes
the task run SKIPPED, with no attempt; a rendering error fails it ("Unable to evaluate the runIf condition
for task ..."), as a failed attempt would (`allowFailure` applies). SKIPPED counts as SUCCESS for its list.

The context is the task's own (`run_context`): the outputs its expressions name, so the check costs what
the task reads, not the execution's size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.common.errors import RenderError
from conveyor.common.model import TaskRun
from conveyor.common.render import NOW_KEY
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel, Task
from conveyor.executor.state import allowed
from conveyor.executor.values import render_condition

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType


def runs(d: Rules, run: TaskRun, task: Task) -> bool:
    """Whether the new task run goes on; if not, it ended here (SKIPPED, or FAILED by its condition)."""
    condition = task.run_if
    if condition is None or condition is True or condition == "true":
        return True
    try:
        context = d.own_context(run, task)
        context[NOW_KEY] = d.now
        if render_condition(condition, context, task.id):
            return True
    except RenderError as exc:
        d.log(run, LogLevel.ERROR, f"Unable to evaluate the runIf condition for task {task.id}: {exc}")
        d.set_state(run, allowed(task, S.FAILED))
        return False
    d.set_state(run, S.SKIPPED)
    return False


__all__ = ["runs"]
