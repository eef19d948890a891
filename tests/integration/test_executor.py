"""The executor's Kafka shell on the real broker: jobs out, results in, snapshots, recovery, dead letters.

The test plays the worker's part by hand (reading worker-jobs, writing TaskResults), so that what is
checked is the executor alone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor.common.events import TaskResult, WorkerJob
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.executions import ExecutionReader
from conveyor.common.kafka.message import Message
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.settings import ExecutorSettings, KafkaSettings
from conveyor.common.state import StateType
from conveyor.executor.service import Executor
from tests.integration.inprocess import serving
from tests.messages import headers_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FLOW = load_flow("""
id: two
namespace: conveyor.tests
tasks:
  - {id: first, type: io.kestra.plugin.core.debug.Return, format: one}
  - {id: second, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.first.value }} two"}
""")


def executor(settings: KafkaSettings, **overrides: Any) -> AbstractContextManager[Executor]:
    """An executor in a thread for a `with` block; `overrides` are `ExecutorSettings` fields."""
    return serving(Executor(settings, ExecutorSettings(**{"poll_timeout": 0.05, **overrides})))


class Harness:
    def __init__(self, settings: KafkaSettings) -> None:
        self.topics = Topics.of(settings)
        self.producer = Producer(settings)
        self.jobs = Consumer(settings, "test-jobs", [self.topics.worker_jobs])
        self.snapshots = ExecutionReader(settings)

    def submit(self) -> str:
        created = new_execution(FLOW)
        self.producer.send(self.topics.execution_events, created.execution_id, created.to_json())
        self.producer.flush()
        return created.execution_id

    def next_job(self, timeout: float = 30) -> WorkerJob:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.jobs.consume(1, 0.2):
                return WorkerJob.model_validate_json(msg.value or b"")
        raise AssertionError("no worker job")

    def answer(self, job: WorkerJob, output: str) -> None:
        for state, outputs in ((StateType.RUNNING, None), (StateType.SUCCESS, {"value": output})):
            result = TaskResult(
                execution_id=job.task_run.execution_id,
                task_run_id=job.task_run.id,
                attempt=job.attempt,
                state=state,
                date=datetime.now(UTC),
                worker_id="test",
                outputs=outputs,
            )
            self.producer.send(self.topics.execution_events, result.execution_id, result.to_json())
        self.producer.flush()

    def final(self, execution_id: str, timeout: float = 30) -> Execution:
        found = self.snapshots.ended([execution_id], timeout)
        if execution_id not in found or not found[execution_id].state.terminal:
            raise AssertionError(f"execution {execution_id} did not end: {found.get(execution_id)}")
        return found[execution_id]

    def close(self) -> None:
        self.jobs.close()
        self.snapshots.close()


@pytest.fixture
def harness(kafka_settings: KafkaSettings) -> Iterator[Harness]:
    h = Harness(kafka_settings)
    yield h
    h.close()


@pytest.mark.parametrize("transactions", [True, False], ids=["exactly-once", "at-least-once"])
def test_jobs_go_out_results_come_in_and_snapshots_rise(
    kafka_settings: KafkaSettings, harness: Harness, transactions: bool
) -> None:
    with executor(kafka_settings, transactions=transactions):
        execution_id = harness.submit()
        first = harness.next_job()
        assert first.task_run.task_id == "first" and first.attempt == 1
        assert first.context["taskrun"]["id"] == first.task_run.id
        harness.answer(first, "one")
        second = harness.next_job()
        assert second.context["outputs"]["first"] == {"value": "one"}
        harness.answer(second, "one two")
        final = harness.final(execution_id)
    assert final.state.current == StateType.SUCCESS
    assert [r.outputs for r in final.task_run_list] == [{"value": "one"}, {"value": "one two"}]
    assert final.revision >= 5


def test_a_new_executor_recovers_state_from_the_state_topic(kafka_settings: KafkaSettings, harness: Harness) -> None:
    with executor(kafka_settings):
        execution_id = harness.submit()
        harness.answer(harness.next_job(), "one")
        second = harness.next_job()
    # the first executor is gone; a new one takes the partitions and rebuilds the execution's state
    with executor(kafka_settings) as replacement:
        assert execution_id in replacement.states
        harness.answer(second, "one two")
        final = harness.final(execution_id)
    assert final.state.current == StateType.SUCCESS and len(final.task_run_list) == 2


def test_undecodable_event_is_dead_lettered_and_processing_goes_on(
    kafka_settings: KafkaSettings, harness: Harness
) -> None:
    topics = Topics.of(kafka_settings)
    dead = Consumer(kafka_settings, "test-dead", [topics.dead_letter])
    try:
        with executor(kafka_settings):
            harness.producer.send(topics.execution_events, "garbage", b"\x00\x01 not json")
            harness.producer.flush()
            execution_id = harness.submit()
            harness.answer(harness.next_job(), "one")
            harness.answer(harness.next_job(), "two")
            assert harness.final(execution_id).state.current == StateType.SUCCESS
        messages: list[Message] = []
        deadline = time.monotonic() + 20
        while not messages and time.monotonic() < deadline:
            messages = dead.consume(10, 0.5)
        assert [m.key for m in messages] == [b"garbage"]
        assert b"undecodable event" in headers_of(messages[0])["conveyor.reason"]
    finally:
        dead.close()
