"""Restarting an ended child execution for its parent: a Subflow's `restartBehavior: RETRY_FAILED`.

The executor forgets an execution when it ends, and it reads no other execution's records in its loop, so
when a restarted parent's Subflow restarts its failed child, a worker job of the Subflow's task run does what
`conveyor restart CHILD` does (`common.control`): it reads the child's final snapshot (with its pinned flow)
from `executions` and its task runs from `taskruns`, and sends `RestartRequested` with them on the control
topic. The child keeps its id and its trigger, so its next end reaches the parent's task run as its first did.
"""

from __future__ import annotations

from conveyor.common import control
from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import KafkaSettings


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
