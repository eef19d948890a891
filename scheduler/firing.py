"""A fired slot as the `ExecutionCreated` it causes: the trigger block, labels and inputs, derived ids.

The flow's JSON is dumped once per flow revision (`flow_json`), not once per slot: 10,000 flows firing
at the same second each reuse their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.common.events import ExecutionCreated
from conveyor.common.flow import Flow
from conveyor.common.ids import derived_id
from conveyor.common.inputs import parse_inputs
from conveyor.common.model import Execution, ExecutionMetadata, ExecutionTrigger, Label
from conveyor.common.state import State
from conveyor.common.triggers.schedule import Schedule
from conveyor.scheduler.decide import Fire


def flow_json(flow: Flow) -> dict[str, Any]:
    return flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def created(flow: Flow, dumped: dict[str, Any], schedule: Schedule, fire: Fire, now: datetime) -> ExecutionCreated:
    """The execution of one slot. Raises `InputError` when the trigger's inputs do not fit the flow."""
    labels = {**flow.labels, **schedule.labels, **fire.labels}
    execution = Execution(
        id=fire.execution_id,
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=flow.revision,
        state=State.new(now),
        inputs=parse_inputs(flow, fire.inputs) or None,
        labels=[Label(key=k, value=v) for k, v in labels.items()],
        metadata=ExecutionMetadata(attempt_number=1, original_created_date=now),
        trigger=ExecutionTrigger(
            id=schedule.id, type=schedule.canonical_type(), date=fire.date, next=fire.next, previous=fire.previous
        ),
    )
    return ExecutionCreated(
        event_id=derived_id("created", fire.execution_id), execution_id=execution.id, execution=execution, flow=dumped
    )
