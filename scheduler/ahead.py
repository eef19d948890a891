"""Slots prepared ahead of their date: the decision and the encoded `ExecutionCreated` are computed while the
scheduler waits, so at the slot's date only the sends and the commit remain (10,000 flows on one cron fire
at once without 10,000 decisions in that second).

A prepared slot is used only if the trigger's state is still the very object it was prepared from (a control
request or a new flow revision in between makes it stale) and its `lateMaximumDelay` still allows it; else
the slot is decided again at its date, as without preparation. Nothing is sent before the slot's date."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conveyor.common.errors import InputError
from conveyor.common.flow import Flow
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.state import TriggerState
from conveyor.scheduler import decide, firing

log = logging.getLogger(__name__)

# How long before its date a slot is prepared (10,000 slots of one second take about half a CPU second).
LOOKAHEAD = timedelta(seconds=5)


@dataclass
class Prepared:
    due: datetime
    state: TriggerState
    step: decide.Step
    # (execution id, encoded ExecutionCreated, slot date) for each fire of `step` whose inputs fit the flow.
    events: list[tuple[str, bytes, datetime]] = field(default_factory=list)


def prepare(state: TriggerState, schedule: Schedule, flow: Flow, dumped: dict[str, Any], now: datetime) -> Prepared:
    """The decision at `now` (a slot's date, or the present) and its encoded executions."""
    step = decide.tick(state, schedule, now)
    prepared = Prepared(now, state, step)
    for fire in step.fires:
        try:
            event = firing.created(flow, dumped, schedule, fire, max(now, fire.date))
        except InputError as exc:
            log.error("trigger %s: slot %s not started: %s", state.key, fire.date.isoformat(), exc)
            continue
        prepared.events.append((event.execution_id, event.to_json(), fire.date))
    return prepared


def usable(prepared: Prepared | None, state: TriggerState, schedule: Schedule, now: datetime) -> bool:
    if prepared is None or prepared.state is not state or now < prepared.due:
        return False
    late = schedule.late_maximum_delay
    return late is None or now - prepared.due <= late
