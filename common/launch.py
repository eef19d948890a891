"""Creating an execution of a flow: the `ExecutionCreated` event the CLI and API publish."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.common.clock import utcnow
from conveyor.common.events import ExecutionCreated
from conveyor.common.flow import Flow
from conveyor.common.ids import new_id
from conveyor.common.inputs import parse_inputs
from conveyor.common.model import Execution, ExecutionMetadata, Label
from conveyor.common.state import State

CORRELATION_ID = "system.correlationId"


def new_execution(
    flow: Flow,
    raw_inputs: dict[str, Any] | None = None,
    *,
    labels: dict[str, str] | None = None,
    now: datetime | None = None,
    typed: bool = True,
    execution_id: str | None = None,
    event_id: str | None = None,
) -> ExecutionCreated:
    """The creation event of a new execution; inputs are checked (raises `InputError`) unless `typed=False`,
    which passes them through as given (the reference's "raw" inputs)."""
    now = now or utcnow()
    inputs = parse_inputs(flow, raw_inputs or {}) if typed else dict(raw_inputs or {})
    execution_id = execution_id or new_id()
    all_labels = {**flow.labels, **(labels or {})}
    # The reference's system label: the execution's own id, or the one its parent passed on (a subflow).
    all_labels.setdefault(CORRELATION_ID, execution_id)
    execution = Execution(
        id=execution_id,
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=flow.revision,
        state=State.new(now),
        inputs=inputs or None,
        labels=[Label(key=k, value=v) for k, v in all_labels.items()],
        metadata=ExecutionMetadata(attempt_number=1, original_created_date=now),
    )
    flow_json = flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return ExecutionCreated(
        event_id=event_id or new_id(), execution_id=execution.id, execution=execution, flow=flow_json
    )
