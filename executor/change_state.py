"""Changing a state by hand (`conveyor change-state`), as a rule of the pure core, with the reference's
semantics (`ExecutionService.markAs`):

- a task run set to SUCCESS, WARNING or FAILED (its last attempt too; its retry or pause timer dropped): its
  ended parent flowables go RESTARTED, so that they are stepped again, and the execution goes on from there:
  an ended execution goes RESTARTED then RUNNING (brought back like a restart, `executor.restore`), a PAUSED
  one RUNNING, a running one stays as it is. What follows the task run in its list runs as if it had ended so;
- without a task run, an ended execution's own state is set (its final header is published again, with a
  new revision). Both are recorded in the state histories.

An ended execution whose flow has `concurrency` does not run again past its limit: the change makes it
RESTARTED and asks the slot keeper for a slot, as a restart does (`executor.concurrency`); the change waits in
`ExecutionState.then` (in its header record, so a new owner keeps it). START applies it (RUNNING at the
keeper's date), QUEUE makes it QUEUED until then, CANCEL or FAIL end it CANCELLED or FAILED with the task
run left as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from conveyor.common.concurrency import Answer
from conveyor.common.events import EVENT_ADAPTER, ChangeStateRequested, SlotDecided
from conveyor.common.model import TaskRun
from conveyor.common.state import CHANGEABLE, CHANGEABLE_FROM, TRANSITIONS, StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.executor import concurrency

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
    d.state.then = None
    if header.terminal:
        d.set_execution_state(S.RESTARTED)
        if concurrency.created(d):  # it waits for a slot of its flow's limit; the change waits with it
            d.state.then = event.model_dump(mode="json", by_alias=True, exclude={"execution", "flow"})
            d.log(None, LogLevel.INFO, "change of state: the execution waits for a slot of its flow's concurrency")
            return
        d.set_execution_state(S.RUNNING)
        d.set_execution_outputs(None)
    _apply(d, run, target)


def _apply(d: Rules, run: TaskRun, target: StateType) -> None:
    d.cancel_run_timer(run)
    d.change_by_hand(run, target)
    for parent in reversed(list(d.state.ancestors(run))):  # outermost first
        if parent.state.terminal and S.RESTARTED in TRANSITIONS[parent.state.current]:
            d.set_state(parent, S.RESTARTED)
    if d.execution.state.current == S.PAUSED and not d.state.paused:
        d.set_execution_state(S.RUNNING)
    d.log(run, LogLevel.INFO, f"task run state changed by hand to {target.value}")


def slot_decided(d: Rules, event: SlotDecided) -> bool:
    """The slot keeper's answer to an execution whose change of state waits for its slot: True when it is
    handled here (START: the change applies now), False for the general rule (`concurrency.decided`)."""
    pending = d.state.then
    if pending is None or pending.get("kind") != "ChangeStateRequested":
        return False
    if not concurrency.waiting(d.execution.state.current):
        return False  # killed meanwhile, or an answer delivered again
    if event.answer != Answer.START:
        if event.answer != Answer.QUEUE:
            d.state.then = None  # CANCEL or FAIL: it ends so, the change not applied
        return False
    change = EVENT_ADAPTER.validate_python(pending)
    assert isinstance(change, ChangeStateRequested)
    d.state.then = None
    run = d.state.runs.get(change.task_run_id or "")
    history = d.execution.state.histories
    when: datetime = max(event.date, history[-1].date) if history else event.date
    d.set_execution_state(S.RUNNING, when)
    d.set_execution_outputs(None)
    if run is not None:
        _apply(d, run, change.state)
    return True
