"""A control request (enable, disable, backfill, a stopAfter notice) applied to a trigger's state: pure."""

from __future__ import annotations

from datetime import datetime

from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.state import Action, TriggerControl, TriggerState
from conveyor.scheduler import decide


def apply_control(state: TriggerState, schedule: Schedule, request: TriggerControl, now: datetime) -> TriggerState:
    if request.action is Action.DISABLE:
        return decide.disable(state, now)
    if request.action is Action.ENABLE:
        return decide.enable(state, schedule, now) if state.disabled else state
    if request.action is Action.STOP_AFTER:
        if request.execution_id is None or request.state is None:
            raise ValueError("a stopAfter notice names the execution and its state")
        return decide.stop_after(state, schedule, request.execution_id, request.state, now)
    return decide.start_backfill(state, schedule, request.model_copy(update={"requested": request.requested}))
