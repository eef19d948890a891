"""Worker liveness on the real broker: an executor that stops hearing a worker resubmits its attempts.

The test plays the worker (heartbeats, RUNNING, results) by hand, as `test_executor` does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from conveyor.common.events import Heartbeat, TaskResult, WorkerJob
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import StateType
from tests.integration.test_executor import Harness, executor

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def harness(kafka_settings: KafkaSettings) -> Iterator[Harness]:
    h = Harness(kafka_settings)
    yield h
    h.close()


def beat(harness: Harness, worker: str, *runs: str) -> None:
    heartbeat = Heartbeat(worker_id=worker, host="test", running_task_run_ids=list(runs), time=datetime.now(UTC))
    harness.producer.send(harness.topics.worker_heartbeats, worker, heartbeat.to_json())
    harness.producer.flush()


def running(harness: Harness, job: WorkerJob, worker: str) -> None:
    result = TaskResult(
        execution_id=job.task_run.execution_id,
        task_run_id=job.task_run.id,
        attempt=job.attempt,
        state=StateType.RUNNING,
        date=datetime.now(UTC),
        worker_id=worker,
    )
    harness.producer.send(Topics(harness.topics.prefix).execution_events, result.execution_id, result.to_json())
    harness.producer.flush()


def test_a_silent_worker_s_attempt_is_resubmitted_and_a_departed_one_is_not(
    kafka_settings: KafkaSettings, harness: Harness
) -> None:
    with executor(kafka_settings, worker_timeout=2.0) as service:
        lost_id = harness.submit()
        job = harness.next_job()
        beat(harness, "ghost", job.task_run.id)
        running(harness, job, "ghost")
        # "ghost" never beats again: after the timeout the attempt is lost and a second one goes out
        again = harness.next_job(timeout=30)
        assert (again.task_run.id, again.attempt) == (job.task_run.id, 2)
        assert "ghost" in service.watch.lost
        harness.answer(again, "one")
        harness.answer(harness.next_job(), "two")
        final = harness.final(lost_id)

        # a worker that leaves cleanly (tombstone) is forgotten, never judged lost
        kept_id = harness.submit()
        job = harness.next_job()
        beat(harness, "leaver", job.task_run.id)
        running(harness, job, "leaver")
        harness.producer.send(harness.topics.worker_heartbeats, "leaver", None)
        harness.producer.flush()
        time.sleep(4.0)  # twice the timeout: room for a wrong resubmission to go out
        harness.answer(job, "one")
        second = harness.next_job()
        assert second.task_run.task_id == "second", "the departed worker's attempt was resubmitted"
        harness.answer(second, "two")
        kept = harness.final(kept_id)
        assert "leaver" not in service.watch.lost
    assert final.state.current == StateType.SUCCESS
    first = final.task_run_list[0]
    assert [(a.state.current, a.worker_id, a.error) for a in first.attempts] == [
        (StateType.FAILED, "ghost", "worker ghost lost"),
        (StateType.SUCCESS, "test", None),
    ]
    assert kept.state.current == StateType.SUCCESS and len(kept.task_run_list[0].attempts) == 1
