"""A fired slot as the `ExecutionCreated` it causes: the trigger block, labels and inputs, derived ids."""

from __future__ import annotations

from datetime import datetime

from conveyor.common.events import ExecutionCreated
from conveyor.common.flow import Flow
from conveyor.common.ids import derived_id
from conveyor.common.launch import new_execution
from conveyor.common.model import ExecutionTrigger
from conveyor.common.triggers.schedule import Schedule
from conveyor.scheduler.decide import Fire


def created(flow: Flow, schedule: Schedule, fire: Fire, now: datetime) -> ExecutionCreated:
    """The execution of one slot. Raises `InputError` when the trigger's inputs do not fit the flow."""
    labels = {**schedule.labels, **fire.labels}
    event = new_execution(
        flow,
        fire.inputs,
        labels=labels,
        now=now,
        execution_id=fire.execution_id,
        event_id=derived_id("created", fire.execution_id),
    )
    event.execution.trigger = ExecutionTrigger(
        id=schedule.id,
        type=schedule.canonical_type(),
        date=fire.date,
        next=fire.next,
        previous=fire.previous,
    )
    return event
