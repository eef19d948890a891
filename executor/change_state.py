"""Changing a state by hand (`conveyor change-state`), as a rule of the pure core, with the reference's
semantics (`ExecutionService.markAs`):

- a task run set to SUCCESS, WARNING or FAILED (its last attempt too; its retry or pause timer dropped): its
  ended parent flowables go RESTARTED, so that they are stepped again, and the execution goes on from there:
  an ended execution goes RESTARTED then RUNNING (brought back like a restart, `executor.restore`), a PAUSED
  one RUNNING, a running one stays as it is. What follows the task run in its list runs as if it had ended so;
- without a task run, an ended execution's own state is set (its final header is published again, with a
  new revision). Both are recorded in the state histories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.common.events import ChangeStateRequested
from conveyor.common.state import CHANGEABLE, CHANGEABLE_FROM, TRANSITIONS, StateType
from conveyor.common.tasks.base import LogLevel

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType


def change_state(d: Rules, event: ChangeStateRequested) -> None:
    target = event.state
    header = d.execution.state
    if target not in CHANGEABLE:
        d.log(None, LogLevel.WARN, f"change of state refused: {target.value} is not SUCCESS, WARNING or FAILED")
        return
    if event.task_run_id is None:
        if not header.terminal or header.current not in CHANGEABLE_FROM or header.current == target:
            d.log(None, LogLevel.WARN, f"change of state refused: the execution is {header.current.value}")
            return
        d.change_execution_by_hand(target)
        d.log(None, LogLevel.INFO, f"execution state changed by hand to {target.value}")
        return
    run = d.state.runs.get(event.task_run_id)
    if run is None or run.state.current not in CHANGEABLE_FROM or run.state.current == target:
        what = "no such task run" if run is None else f"the task run is {run.state.current.value}"
        d.log(None, LogLevel.WARN, f"change of state of {event.task_run_id} refused: {what}")
        return
    ancestors = list(d.state.ancestors(run))
    if header.terminal:
        d.set_execution_state(S.RESTARTED)
        d.set_execution_state(S.RUNNING)
        d.set_execution_outputs(None)
    d.cancel_run_timer(run)
    d.change_by_hand(run, target)
    for parent in reversed(ancestors):  # outermost first
        if parent.state.terminal and S.RESTARTED in TRANSITIONS[parent.state.current]:
            d.set_state(parent, S.RESTARTED)
    if d.execution.state.current == S.PAUSED and not d.state.paused:
        d.set_execution_state(S.RUNNING)
    d.log(run, LogLevel.INFO, f"task run state changed by hand to {target.value}")
