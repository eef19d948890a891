"""List, enable, disable and backfill triggers: the one path `conveyor triggers` and the HTTP API share.

The list joins the deployed flows (`flows` topic) with the scheduler's state (`trigger-state` topic): each
trigger of each deployed flow, whether it is enabled (the flow, the definition and a control request all
agree), its last and next dates and any backfill under way. A request is checked (the trigger must exist;
a backfill needs a Schedule and `start <= end`; any trigger type may be enabled and disabled) and sent to
`trigger-control`, in its flow's partition.

TriggerError (ConveyorError)
├── UnknownTrigger     no deployed flow with that trigger (the CLI exits 2, the API answers 404)
└── BadRequest         the request cannot apply to it (the CLI exits 2, the API answers 422)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.common.base import Model
from conveyor.common.clock import utcnow
from conveyor.common.deployed import DeployedFlow, flow_key
from conveyor.common.errors import ConveyorError
from conveyor.common.flow import Flow
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.loader import load_flow
from conveyor.common.settings import KafkaSettings
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.slot_conditions import next_meeting
from conveyor.common.triggers.state import Action, TriggerControl, TriggerState, partition_of, trigger_key

# The earliest year a backfill may start in.
EARLIEST_YEAR = 1970


class TriggerError(ConveyorError):
    pass


class UnknownTrigger(TriggerError):
    pass


class BadRequest(TriggerError):
    """`field` names what is wrong: `start`, `end`, or `triggerId` (the trigger's type does not allow it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TriggerRow(Model):
    namespace: str
    flow_id: str
    trigger_id: str
    type: str
    enabled: bool
    disabled_by: str | None = None  # "flow", "definition", "request" or "stopAfter"
    cron: str | None = None
    timezone: str | None = None
    last: datetime | None = None
    next: datetime | None = None
    backfill: dict[str, Any] | None = None
    # When `stopAfter` disabled it: the execution that ended in one of those states, the state, when.
    stopped_after: dict[str, Any] | None = None


def _flows(table: dict[str, bytes], namespace: str | None) -> list[Flow]:
    out = []
    for key, value in sorted(table.items()):
        deployed = DeployedFlow.model_validate_json(value)
        if namespace and not (deployed.namespace == namespace or deployed.namespace.startswith(namespace + ".")):
            continue
        try:
            out.append(load_flow(deployed.source, f"flows/{key}"))
        except ConveyorError:
            continue  # a flow that no longer loads has no triggers to show
    return out


def _states(table: dict[str, bytes]) -> dict[str, TriggerState]:
    return {key: TriggerState.model_validate_json(value) for key, value in table.items()}


def list_triggers(kafka: KafkaSettings, namespace: str | None = None) -> list[TriggerRow]:
    topics = Topics.of(kafka)
    flows_table, state_table = TopicTable(kafka, topics.flows), TopicTable(kafka, topics.trigger_state)
    try:
        flows, states = _flows(flows_table.refresh(), namespace), _states(state_table.refresh())
    finally:
        flows_table.close()
        state_table.close()
    return [_row(flow, trigger, states.get(trigger_key(flow.namespace, flow.id, trigger.id))) for flow in flows
            for trigger in flow.triggers]  # fmt: skip


def _row(flow: Flow, trigger: Any, state: TriggerState | None) -> TriggerRow:
    disabled_by = "flow" if flow.disabled else "definition" if trigger.disabled else None
    if disabled_by is None and state is not None and state.disabled:
        disabled_by = "stopAfter" if state.stopped_after is not None else "request"
    schedule = trigger if isinstance(trigger, Schedule) else None
    return TriggerRow(
        namespace=flow.namespace,
        flow_id=flow.id,
        trigger_id=trigger.id,
        type=trigger.canonical_type(),
        enabled=disabled_by is None,
        disabled_by=disabled_by,
        cron=schedule.cron if schedule else None,
        timezone=schedule.timezone if schedule else None,
        last=state.last if state else None,
        next=_next(flow, schedule, state) if state and disabled_by is None else None,
        backfill=state.backfill.to_dict() if state and state.backfill else None,
        stopped_after=state.stopped_after.to_dict() if state and state.stopped_after else None,
    )


def _next(flow: Flow, schedule: Schedule | None, state: TriggerState) -> datetime | None:
    """The next slot that will fire: the next one considered, or after it the first that meets the
    Schedule's `conditions`."""
    if schedule is None or state.next is None:
        return state.next
    return next_meeting(schedule, state.next, (flow.namespace, flow.id))


def find_trigger(kafka: KafkaSettings, namespace: str, flow_id: str, trigger_id: str) -> Any:
    table = TopicTable(kafka, Topics.of(kafka).flows)
    try:
        value = table.get(flow_key(namespace, flow_id))
    finally:
        table.close()
    if value is not None:
        deployed = DeployedFlow.model_validate_json(value)
        try:
            flow = load_flow(deployed.source, f"flows/{deployed.key}")
            return flow.find_trigger(trigger_id)
        except (ConveyorError, KeyError):
            pass
    raise UnknownTrigger(f"no trigger {trigger_id!r} in a deployed flow {namespace}.{flow_id}")


def request(
    kafka: KafkaSettings,
    producer: Producer,
    namespace: str,
    flow_id: str,
    trigger_id: str,
    action: Action,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> TriggerControl:
    """Check and send one control request; the scheduler that owns the trigger applies it."""
    trigger = find_trigger(kafka, namespace, flow_id, trigger_id)
    now = utcnow()
    if action is Action.BACKFILL:
        _check_backfill(trigger, start, end, now)
    control = TriggerControl(
        namespace=namespace, flow_id=flow_id, trigger_id=trigger_id, action=action, start=start, end=end, requested=now
    )
    partition = partition_of(flow_key(namespace, flow_id), kafka.partitions)
    producer.send(Topics.of(kafka).trigger_control, control.key, control.to_json(), partition=partition)
    producer.flush()
    return control


def _check_backfill(trigger: Any, start: datetime | None, end: datetime | None, now: datetime) -> None:
    if not isinstance(trigger, Schedule):
        raise BadRequest(
            "triggerId", f"only a Schedule can be backfilled; {trigger.id!r} is a {trigger.canonical_type()}"
        )
    if start is None:
        raise BadRequest("start", "a backfill needs a start date-time")
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise BadRequest("start", "give a time zone offset, e.g. 2026-12-01T00:00:00Z")
    if end is not None and end < start:
        raise BadRequest("end", "the backfill's end is before its start")
    if start > now:
        raise BadRequest("start", "a backfill covers the past; the start is in the future")
    if start.year < EARLIEST_YEAR:
        raise BadRequest("start", f"a backfill starts in {EARLIEST_YEAR} or later")
