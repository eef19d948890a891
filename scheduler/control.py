"""A control request (enable, disable, backfill, a stopAfter notice) applied to a trigger's state: pure.

Any trigger type may be enabled and disabled, and `stopAfter` disables any; only a Schedule is backfilled
(and recovers its missed slots when enabled again)."""

from __future__ import annotations

from datetime import datetime

from conveyor.common.triggers.base import Trigger
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.state import Action, TriggerControl, TriggerState
from conveyor.scheduler import decide


def apply_control(state: TriggerState, trigger: Trigger, request: TriggerControl, now: datetime) -> TriggerState:
    if request.action is Action.DISABLE:
        return decide.disable(state, now)
    if request.action is Action.ENABLE:
        return decide.enable(state, trigger, now) if state.disabled else state
    if request.action is Action.STOP_AFTER:
        if request.execution_id is None or request.state is None:
            raise ValueError("a stopAfter notice names the execution and its state")
        return decide.stop_after(state, trigger, request.execution_id, request.state, now)
    if not isinstance(trigger, Schedule):
        raise ValueError(f"only a Schedule can be backfilled; {trigger.id!r} is a {trigger.canonical_type()}")
    return decide.start_backfill(state, trigger, request.model_copy(update={"requested": request.requested}))


def first_state(namespace: str, flow_id: str, trigger: Trigger, now: datetime) -> TriggerState:
    """The state of a trigger that has none yet and is not a Schedule (a Schedule's is `decide.first_state`):
    enabled, nothing fired."""
    return TriggerState(
        namespace=namespace, flow_id=flow_id, trigger_id=trigger.id, type=trigger.canonical_type(), updated=now
    )
