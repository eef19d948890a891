"""Restarting an ended child execution for its parent: a Subflow's or ForEachItem's `restartBehavior:
RETRY_FAILED`.

The executor forgets an execution when it ends, and it reads no other execution's records in its loop, so
when a restarted parent's Subflow restarts its failed child, a worker job of the Subflow's task run does what
`conveyor restart CHILD` does (`common.control`): it reads the child's final snapshot (with its pinned flow)
from `executions` and its task runs from `taskruns`, and sends `RestartRequested` with them on the control
topic. The child keeps its id and its trigger, so its next end reaches the parent's task run as its first did.

A ForEachItem restarts its failed batches' children in one job: they are looked up together (each partition
of `executions` and of `taskruns` read once, not once per child) and their restarts made ready (`prepare`),
then, once the runner has decided, all are sent (`send`): nothing is sent when the job decides to run every
batch again instead (`conveyor.worker.runners.items`). The prepared restarts are held in memory meanwhile
(each child's header and task runs).
"""

from __future__ import annotations

from conveyor.common import control
from conveyor.common.events import TaskRunChange
from conveyor.common.kafka import lookup
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

    def prepare(self, execution_ids: list[str]) -> list[Prepared]:
        """Each child's restart events, or why it cannot be restarted (with its header when it was found), in
        the order asked. Each partition of `executions` and of `taskruns` is read once for all of them."""
        topics = Topics.of(self._kafka)
        records = lookup.latest_many(self._kafka, topics.executions, execution_ids)
        found: dict[str, control.Found] = {}
        answers: dict[str, Prepared] = {}
        for execution_id in execution_ids:
            record = records.get(execution_id)
            if record is None:
                answers[execution_id] = Prepared(None, reason=str(control.unknown(self._kafka, execution_id)))
                continue
            found[execution_id] = control.found_in(record)
            try:
                control.refuse_restart(found[execution_id])
            except control.ControlError as exc:
                answers[execution_id] = Prepared(found.pop(execution_id).execution, reason=str(exc))
        raw_runs = lookup.task_runs_many(self._kafka, topics.taskruns, list(found))
        for execution_id, one in found.items():
            runs = [TaskRunChange.model_validate_json(raw).task_run for raw in raw_runs.get(execution_id, [])]
            try:
                answers[execution_id] = Prepared(one.execution, events=control.restart_with(one, runs, topics.taskruns))
            except control.ControlError as exc:
                answers[execution_id] = Prepared(one.execution, reason=str(exc))
        return [answers[execution_id] for execution_id in execution_ids]

    def send(self, ready: list[Prepared]) -> None:
        topic = Topics.of(self._kafka).control
        for prepared in ready:
            for key, event in prepared.events or []:
                self._producer.send(topic, key, event)
        self._producer.flush(30)
