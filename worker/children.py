"""Restarting an ended child execution for its parent: a Subflow's or ForEachItem's `restartBehavior:
RETRY_FAILED`.

The executor forgets an execution when it ends, and it reads no other execution's records in its loop, so
when a restarted parent's Subflow restarts its failed child, a worker job of the Subflow's task run does what
`conveyor restart CHILD` does (`common.control`): it reads the child's final snapshot (with its pinned flow)
from `executions` and its task runs from `taskruns`, and sends `RestartRequested` with them on the control
topic. The child keeps its id and its trigger, so its next end reaches the parent's task run as its first did.

A ForEachItem restarts its failed batches' children in one job: each child is looked up and its restart made
ready (`prepare`), then, once the runner has decided, all are sent (`send`): nothing is sent when the job
decides to run every batch again instead (`conveyor.worker.runners.items`). The prepared restarts are held
in memory meanwhile (each child's header and task runs).
"""

from __future__ import annotations

from conveyor.common import control
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings
from conveyor.worker.runners.base import Prepared


class Children:
    def __init__(self, kafka: KafkaSettings, producer: Producer) -> None:
        self._kafka = kafka
        self._producer = producer

    def restart(self, execution_id: str) -> str | None:
        """None once the child's restart was sent; else why it cannot be restarted (unknown, not FAILED or
        KILLED, its task runs not found). Kafka being unreachable raises (the job fails with it)."""
        try:
            control.request(self._kafka, self._producer, control.Action.RESTART, execution_id)
        except control.ControlError as exc:
            return str(exc)
        return None

    def prepare(self, execution_id: str) -> Prepared:
        """The child's restart events, or why it cannot be restarted (with its header when it was found)."""
        try:
            found = control.latest_execution(self._kafka, execution_id)
        except control.ControlError as exc:
            return Prepared(None, reason=str(exc))
        try:
            _, events = control.restart_events(self._kafka, found, control.Params())
        except control.ControlError as exc:
            return Prepared(found.execution, reason=str(exc))
        return Prepared(found.execution, events=events)

    def send(self, ready: list[Prepared]) -> None:
        topic = Topics.of(self._kafka).control
        for prepared in ready:
            for key, event in prepared.events or []:
                self._producer.send(topic, key, event)
        self._producer.flush(30)
