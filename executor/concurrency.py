"""Flow concurrency in the pure core: an execution of a flow with `concurrency` waits for its slot.

Created, it stays CREATED and asks the slot keeper for a slot (`SlotRequested`, sent by the shell in the
decision's transaction); nothing of it starts until the keeper's `SlotDecided` comes: START makes it RUNNING
(at the keeper's date) and the flow starts, QUEUE makes it QUEUED (a later START starts it), CANCEL ends it
CANCELLED and FAIL ends it FAILED, without any task run. When it ends, whatever the way (a kill of a QUEUED
one included: it ends KILLED without running), `SlotReleased` frees its slot or its place in the queue.
An answer for an execution that no longer waits (killed meanwhile) changes nothing.

Unqueued by hand (`UnqueueRequested`, the reference's unqueue), a QUEUED execution starts at once as if the
keeper had answered START, past the limit, and `SlotForced` tells the keeper it holds a slot now (out of the
queue); a START the keeper sent meanwhile finds it running and changes nothing. Not QUEUED: nothing happens
(the CLI and the API refuse it before sending).

A restart of an ended execution, and a replay, ask for a slot too (as the reference does since kestra#7880):
the restarted execution goes RESTARTED and waits there (or QUEUED) until START, then restarts
(`restart.run_again`, `restart.replay`); CANCEL or FAIL end it CANCELLED or FAILED as they would a newcomer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.common.concurrency import Answer, SlotForced, SlotReleased, SlotRequested, flow_key
from conveyor.common.events import SlotDecided
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.executor import restart

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType
# The states of an execution that waits for its slot: nothing of it runs. (Between two decisions an execution
# is RESTARTED only while it waits: a restart without a limit goes RUNNING in the decision that restarts it.)
WAITING = frozenset({S.CREATED, S.QUEUED, S.RESTARTED})


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


def restarting(d: Rules) -> bool:
    """A restart or a replay: True when it waits for a slot (RESTARTED), False when it restarts now."""
    if d.flow.concurrency is None or restart.refusal(d.execution) is not None:
        return False
    if not restart.is_replay(d.execution):
        d.set_execution_state(S.RESTARTED)
    return created(d)


def _replay(d: Rules) -> bool:
    """Whether the waiting execution is a replay (it has not run yet: RESTARTED, maybe QUEUED, nothing else)."""
    return all(h.state in (S.RESTARTED, S.QUEUED) for h in d.execution.state.histories)


def decided(d: Rules, event: SlotDecided) -> None:
    current = d.execution.state.current
    if not waiting(current):
        return  # killed meanwhile, or an answer delivered again
    last = d.execution.state.histories[-1].date if d.execution.state.histories else event.date
    when = max(event.date, last)
    limit = d.flow.concurrency.limit if d.flow.concurrency else 0
    restarted = any(h.state == S.RESTARTED for h in d.execution.state.histories)
    if event.answer == Answer.START:
        if not restarted:
            d.set_execution_state(S.RUNNING, when)
        elif _replay(d):
            restart.replay(d, when)
        else:
            restart.run_again(d, when)
    elif event.answer == Answer.QUEUE:
        if current != S.QUEUED:
            d.log(None, LogLevel.INFO, f"Flow is queued due to concurrency limit exceeded, {limit} running(s)")
            d.set_execution_state(S.QUEUED, when)
    elif event.answer == Answer.CANCEL:
        d.log(None, LogLevel.INFO, f"Flow is CANCELLED due to concurrency limit exceeded, {limit} running(s)")
        d.set_execution_state(S.CANCELLED, when)
    else:
        d.log(None, LogLevel.ERROR, f"Flow is FAILED due to concurrency limit exceeded, {limit} running(s)")
        d.set_execution_state(S.FAILED, when)


def unqueue(d: Rules, event_id: str) -> SlotDecided | None:
    """A QUEUED execution started by hand: the START it is given now (None when it is not QUEUED)."""
    if d.execution.state.current != S.QUEUED or d.flow.concurrency is None:
        return None
    d.slot(SlotForced(flow=flow_key(d.execution.namespace, d.execution.flow_id), execution_id=d.execution.id))
    d.log(None, LogLevel.INFO, "Execution unqueued: it runs now, past the concurrency limit")
    return SlotDecided(event_id=event_id, execution_id=d.execution.id, answer=Answer.START, date=d.now)


def ended(d: Rules) -> None:
    """The execution reached a final state: its slot, or its place in the queue, is free."""
    if d.flow.concurrency is None:
        return
    key = flow_key(d.execution.namespace, d.execution.flow_id)
    d.slot(SlotReleased(flow=key, execution_id=d.execution.id))
