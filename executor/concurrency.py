"""Flow concurrency in the pure core: an execution of a flow with `concurrency` waits for its slot.

Created, it stays CREATED and asks the slot keeper for a slot (`SlotRequested`, sent by the shell in the
decision's transaction); nothing of it starts until the keeper's `SlotDecided` comes: START makes it RUNNING
(at the keeper's date) and the flow starts, QUEUE makes it QUEUED (a later START starts it), CANCEL ends it
CANCELLED and FAIL ends it FAILED, without any task run. When it ends, whatever the way (a kill of a QUEUED
one included: it ends KILLED without running), `SlotReleased` frees its slot or its place in the queue.
An answer for an execution that no longer waits (killed meanwhile) changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.common.concurrency import Answer, SlotReleased, SlotRequested, flow_key
from conveyor.common.events import SlotDecided
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType
# The states of an execution that waits for its slot: nothing of it runs.
WAITING = frozenset({S.CREATED, S.QUEUED})


def waiting(state: StateType) -> bool:
    return state in WAITING


def created(d: Rules) -> bool:
    """A new execution: True when it waits for a slot (its flow has `concurrency`), False when it runs now."""
    limit = d.flow.concurrency
    if limit is None:
        return False
    key = flow_key(d.execution.namespace, d.execution.flow_id)
    d.slot(SlotRequested(flow=key, execution_id=d.execution.id, limit=limit.limit, behavior=limit.behavior))
    return True


def decided(d: Rules, event: SlotDecided) -> None:
    current = d.execution.state.current
    if not waiting(current):
        return  # killed meanwhile, or an answer delivered again
    last = d.execution.state.histories[-1].date if d.execution.state.histories else event.date
    when = max(event.date, last)
    limit = d.flow.concurrency.limit if d.flow.concurrency else 0
    if event.answer == Answer.START:
        d.set_execution_state(S.RUNNING, when)
    elif event.answer == Answer.QUEUE:
        if current == S.CREATED:
            d.log(None, LogLevel.INFO, f"Flow is queued due to concurrency limit exceeded, {limit} running(s)")
            d.set_execution_state(S.QUEUED, when)
    elif event.answer == Answer.CANCEL:
        d.log(None, LogLevel.INFO, f"Flow is CANCELLED due to concurrency limit exceeded, {limit} running(s)")
        d.set_execution_state(S.CANCELLED, when)
    else:
        d.log(None, LogLevel.ERROR, f"Flow is FAILED due to concurrency limit exceeded, {limit} running(s)")
        d.set_execution_state(S.FAILED, when)


def ended(d: Rules) -> None:
    """The execution reached a final state: its slot, or its place in the queue, is free."""
    if d.flow.concurrency is None:
        return
    key = flow_key(d.execution.namespace, d.execution.flow_id)
    d.slot(SlotReleased(flow=key, execution_id=d.execution.id))
