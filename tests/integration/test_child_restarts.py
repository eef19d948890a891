"""A ForEachItem's restart of its failed batches' children on the real Kafka (`worker.children.Children`): the
children looked up together (each partition read once), each answered with its restart events or why it
cannot be restarted, in the order asked; nothing sent until `send`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.common import control
from conveyor.common.events import FLOW_HEADER, RestartRequested, RestoreTaskRuns, TaskRunChange
from conveyor.common.kafka import lookup
from conveyor.common.kafka.lookup import EXECUTION_HEADER
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution, TaskRun
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.worker.children import Children

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DAY = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
S = StateType


def _state(final: StateType) -> State:
    steps = [S.CREATED, S.RUNNING] + ([final] if final != S.RUNNING else [])
    return State(
        current=final, histories=[StateHistory(state=s, date=DAY + timedelta(seconds=i)) for i, s in enumerate(steps)]
    )


def _seed(producer: Producer, kafka: KafkaSettings, execution_id: str, final: StateType, runs: int = 2) -> None:
    """An execution and its task runs as the executor writes them (its final snapshot carries its flow)."""
    topics = Topics.of(kafka)
    execution = Execution(
        id=execution_id, namespace="team.r", flow_id="child", state=_state(final), revision=3, task_run_count=runs
    )
    partition = lookup.default_partition(execution_id, kafka.partitions)  # the execution's, as the executor's
    for n in range(runs):
        run = TaskRun(
            id=f"{execution_id}-t{n}",
            execution_id=execution_id,
            namespace="team.r",
            flow_id="child",
            task_id=f"t{n}",
            state=_state(S.SUCCESS if n == 0 else final),
        )
        mark = [(EXECUTION_HEADER, execution_id.encode())]
        change = TaskRunChange(revision=3, task_run=run).to_json()
        producer.send(topics.taskruns, run.id, change, headers=mark, partition=partition)
    flow = json.dumps({"id": "child", "namespace": "team.r", "tasks": []}).encode()
    producer.send(topics.executions, execution_id, execution.to_json(), headers=[(FLOW_HEADER, flow)])


def test_children_are_prepared_together_and_sent_only_when_asked(kafka_settings: KafkaSettings) -> None:
    producer = Producer(kafka_settings)
    topics = Topics.of(kafka_settings)
    failed = [f"child-failed-{n}" for n in range(5)]
    for execution_id in failed:
        _seed(producer, kafka_settings, execution_id, S.FAILED)
    _seed(producer, kafka_settings, "child-running", S.RUNNING)
    _seed(producer, kafka_settings, "child-deleted", S.FAILED)
    producer.send(topics.executions, "child-deleted", None)  # deleted: a tombstone
    producer.flush(10)

    children = Children(kafka_settings, producer)
    asked = [failed[0], "child-running", "child-deleted", "child-never", *failed[1:]]
    answers = children.prepare(asked)
    assert len(answers) == len(asked)
    by_id = dict(zip(asked, answers, strict=True))
    for execution_id in failed:
        prepared = by_id[execution_id]
        assert prepared.execution is not None and prepared.execution.id == execution_id
        assert prepared.events is not None and prepared.reason is None
        first, *rest = [event for _, event in prepared.events]
        restart = RestartRequested.model_validate_json(first)
        assert restart.execution_id == execution_id and restart.task_run_count == 2
        restored = [run.id for raw in rest for run in RestoreTaskRuns.model_validate_json(raw).task_runs]
        assert sorted(restored) == [f"{execution_id}-t0", f"{execution_id}-t1"]
    running = by_id["child-running"]
    assert running.events is None and running.execution is not None and "has not ended" in (running.reason or "")
    for gone in ("child-deleted", "child-never"):
        assert by_id[gone].events is None and by_id[gone].execution is None
        assert f"no execution {gone}" in (by_id[gone].reason or "")

    # The same look-up one child at a time answers the same (`conveyor restart`'s path).
    one = control.latest_execution(kafka_settings, failed[0])
    _, events = control.restart_events(kafka_settings, one, control.Params())
    assert [key for key, _ in events] == [key for key, _ in by_id[failed[0]].events or []]

    assert lookup.latest_many(kafka_settings, topics.control, failed) == dict.fromkeys(failed)  # nothing sent yet
    children.send([by_id[failed[0]], by_id[failed[1]]])
    sent = lookup.latest_many(kafka_settings, topics.control, failed)
    assert [execution_id for execution_id, record in sent.items() if record is not None] == failed[:2]
