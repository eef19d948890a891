"""Unqueue QUEUED executions by hand, one or many (the reference's `POST /executions/{id}/unqueue`,
`/executions/unqueue/by-ids` and `/unqueue/by-query`): each starts at once, past its flow's concurrency limit
(`executor.concurrency.unqueue`). The path `conveyor unqueue` and the API share.

Many at once are all or nothing: every execution is looked up first (on the `executions` topic, as a single
request is) and, if one is unknown or not QUEUED, none is sent and each one that cannot be is named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conveyor.common import control
from conveyor.common.control import Found, UnknownExecution
from conveyor.common.events import UnqueueRequested
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import StateType

NOT_FOUND = "execution not found"


@dataclass(frozen=True)
class Invalid:
    execution_id: str
    message: str

    @property
    def unknown(self) -> bool:
        return self.message == NOT_FOUND


def check(
    kafka: KafkaSettings, ids: list[str], authorize: Callable[[Execution], None] | None = None
) -> tuple[list[Found], list[Invalid]]:
    """Each execution's latest header, and those that cannot be unqueued (unknown, or not QUEUED).
    `authorize` may raise `UnknownExecution` (not the caller's to read: counted unknown) or refuse outright."""
    found: list[Found] = []
    invalid: list[Invalid] = []
    for execution_id in dict.fromkeys(ids):
        try:
            one = control.latest_execution(kafka, execution_id)
            if authorize is not None:
                authorize(one.execution)
        except UnknownExecution:
            invalid.append(Invalid(execution_id, NOT_FOUND))
            continue
        state = one.execution.state.current
        if state != StateType.QUEUED:
            invalid.append(Invalid(execution_id, f"execution is {state.value}, not QUEUED"))
        else:
            found.append(one)
    return found, invalid


def send(kafka: KafkaSettings, producer: Producer, found: list[Found]) -> int:
    """The unqueue requests of `found`, delivered; how many."""
    topic = Topics.of(kafka).control
    for one in found:
        producer.send(topic, one.execution.id, UnqueueRequested(execution_id=one.execution.id).to_json())
    producer.flush(30)
    return len(found)


__all__ = ["NOT_FOUND", "Invalid", "check", "send"]
