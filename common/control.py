"""Kill or restart an execution by its id: the one path `conveyor kill|restart` and the HTTP API's
`POST /api/v1/executions/{executionId}/kill|restart` share (look the execution up, refuse, send).

The look-up reads the execution's latest snapshot from the compacted `executions` topic (the executor's own
record, never behind it as Elasticsearch may be). What cannot be done is refused with a message naming the
state: killing an execution that has ended, restarting one that is not FAILED or KILLED. Otherwise
`KillRequested` / `RestartRequested` goes to `execution-events`.

Restart: the executor forgot the execution when it ended. Its final snapshot carries the pinned flow
definition (header `conveyor.flow`); `RestartRequested` carries both, and the executor rebuilds the
execution's working state from them (`executor.restart`).

ControlError (ConveyorError)
├── UnknownExecution    no execution with that id (the CLI exits 2, the API answers 404)
└── Refused             the execution's state does not allow it (the CLI exits 2, the API answers 409)
Kafka being unreachable raises `KafkaError` (the CLI exits 3, the API answers 503).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from conveyor.common.errors import ConveyorError
from conveyor.common.events import FLOW_HEADER, KillRequested, RestartRequested
from conveyor.common.kafka import lookup
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import RESTARTABLE


class Action(StrEnum):
    KILL = "kill"
    RESTART = "restart"


class ControlError(ConveyorError):
    """The request cannot be carried out; the message says why."""


class UnknownExecution(ControlError):
    pass


class Refused(ControlError):
    pass


def latest_execution(kafka: KafkaSettings, execution_id: str) -> tuple[Execution, dict[str, Any] | None]:
    """The execution's latest snapshot and, once it has ended, its pinned flow definition."""
    record = lookup.latest(kafka, Topics.of(kafka).executions, execution_id)
    if record is None:
        raise UnknownExecution(
            f"no execution {execution_id} on {kafka.bootstrap} (topic prefix {kafka.topic_prefix!r})"
        )
    execution = Execution.model_validate_json(record.value)
    raw_flow = record.headers.get(FLOW_HEADER)
    return execution, json.loads(raw_flow) if raw_flow else None


def kill_event(execution: Execution, _: dict[str, Any] | None) -> bytes:
    state = execution.state.current
    if state.terminal:
        raise Refused(f"execution {execution.id} has already ended {state.value}: there is nothing to kill")
    return KillRequested(execution_id=execution.id).to_json()


def restart_event(execution: Execution, flow: dict[str, Any] | None) -> bytes:
    state = execution.state.current
    if state not in RESTARTABLE:
        what = "it has not ended" if not state.terminal else "it did not fail"
        raise Refused(
            f"execution {execution.id} is {state.value} ({what}): only a FAILED or KILLED execution can be restarted"
        )
    if flow is None:
        raise Refused(f"execution {execution.id}: its final snapshot carries no flow definition to restart with")
    return RestartRequested(execution_id=execution.id, execution=execution, flow=flow).to_json()


EVENTS: dict[Action, Callable[[Execution, dict[str, Any] | None], bytes]] = {
    Action.KILL: kill_event,
    Action.RESTART: restart_event,
}


def request(kafka: KafkaSettings, producer: Producer, action: Action, execution_id: str) -> Execution:
    """Look the execution up, refuse (`ControlError`) or send the request and wait for its delivery.
    Answers the snapshot the request was made on: its state is the one the execution was in."""
    execution, flow = latest_execution(kafka, execution_id)
    event = EVENTS[action](execution, flow)
    producer.send(Topics.of(kafka).execution_events, execution_id, event)
    producer.flush(30)
    return execution
