"""The worker service on the real Kafka broker: jobs in, RUNNING and final results, logs, metrics, heartbeats
and dead letters out; kills, backpressure, and a drain that leaves unfinished jobs to the next worker."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conveyor.common.events import EVENT_ADAPTER, LogEntry, MetricRecord, TaskResult, WorkerJob
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings, WorkerSettings
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.worker.messages import Heartbeat, KillSignal
from conveyor.worker.service import Worker
from conveyor.worker.testing import make_job

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RETURN = "io.kestra.plugin.core.debug.Return"
LOG = "io.kestra.plugin.core.log.Log"
SLEEP = "io.kestra.plugin.core.flow.Sleep"


class Tail:
    """Every message of some topics from the beginning, read with a plain consumer of its own group."""

    def __init__(self, settings: KafkaSettings, topic: str, decode: Callable[[bytes], Any]) -> None:
        self._consumer = Consumer(settings, f"test-reader-{uuid.uuid4().hex}", [topic])
        self._decode = decode
        self.items: list[Any] = []
        self.messages: list[Any] = []

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 30.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while not predicate(self.items):
            assert time.monotonic() < deadline, f"timed out; got {self.items}"
            for msg in self._consumer.consume(max_messages=500, timeout=0.2):
                self.messages.append(msg)
                self.items.append(self._decode(msg.value or b""))
        return self.items

    def read_for(self, seconds: float) -> list[Any]:
        """Everything that arrives within `seconds` (to check that nothing more does)."""
        deadline = time.monotonic() + seconds
        return self.wait_for(lambda _: time.monotonic() >= deadline, timeout=seconds + 30)

    def close(self) -> None:
        self._consumer.close()


def results(settings: KafkaSettings) -> Tail:
    return Tail(settings, Topics.of(settings).execution_events, EVENT_ADAPTER.validate_json)


def of(items: list[TaskResult], job: WorkerJob) -> list[TaskResult]:
    return [r for r in items if r.task_run_id == job.task_run.id]


def states(items: list[TaskResult], job: WorkerJob) -> list[StateType]:
    return [r.state for r in of(items, job)]


def ended(*jobs: WorkerJob) -> Callable[[list[TaskResult]], bool]:
    return lambda items: all(any(s.terminal for s in states(items, job)) for job in jobs)


def started(*jobs: WorkerJob) -> Callable[[list[TaskResult]], bool]:
    return lambda items: all(StateType.RUNNING in states(items, job) for job in jobs)


@contextmanager
def running_worker(settings: KafkaSettings, **overrides: Any) -> Iterator[Worker]:
    # RUNNING at once unless a test says otherwise: most tests follow an attempt from its start.
    config: dict[str, Any] = {
        "poll_timeout": 0.05,
        "drain_seconds": 5.0,
        "concurrency": 4,
        "running_report_delay": 0,
        **overrides,
    }
    worker = Worker(settings, WorkerSettings(**config))
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:  # surfaced in the test, not lost in the thread
            failures.append(exc)

    thread = threading.Thread(target=run, name="test-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive(), "the worker did not stop"
    assert not failures, failures


@pytest.fixture
def producer(kafka_settings: KafkaSettings) -> Iterator[Producer]:
    producer = Producer(kafka_settings)
    yield producer
    producer.flush()


def send_jobs(producer: Producer, settings: KafkaSettings, *jobs: WorkerJob, key: str | None = None) -> None:
    for job in jobs:
        producer.send(Topics.of(settings).worker_jobs, key or job.task_run.id, job.to_json())
    producer.flush()


def send_kill(producer: Producer, settings: KafkaSettings, execution_id: str) -> None:
    signal = KillSignal(execution_id=execution_id)
    producer.send(Topics.of(settings).kills, execution_id, signal.to_json())
    producer.flush()


def sleep_job(task_id: str, duration: str) -> WorkerJob:
    return make_job({"id": task_id, "type": SLEEP, "duration": duration})


def test_quick_attempts_report_once_and_longer_ones_report_running_first(
    kafka_settings: KafkaSettings, producer: Producer
) -> None:
    quick = make_job({"id": "quick", "type": RETURN, "format": "x"})
    nap = sleep_job("nap", "PT1S")
    events = results(kafka_settings)
    with running_worker(kafka_settings, running_report_delay=0.3):
        send_jobs(producer, kafka_settings, quick, nap)
        items = events.wait_for(ended(quick, nap))
    events.close()
    [done] = of(items, quick)  # one report: its end, with when it started
    assert done.state == StateType.SUCCESS
    assert done.started is not None and done.started <= done.date
    running, slept = of(items, nap)
    assert (running.state, slept.state) == (StateType.RUNNING, StateType.SUCCESS)
    assert running.date == slept.started  # RUNNING carries the start, not the moment it was reported
    assert (slept.date - running.date).total_seconds() >= 1.0


def test_jobs_are_run_and_reported(kafka_settings: KafkaSettings, producer: Producer) -> None:
    topics = Topics.of(kafka_settings)
    ret = make_job({"id": "ret", "type": RETURN, "format": "{{ taskrun.id }}"})
    ret.context["taskrun"] = {"id": ret.task_run.id}
    hello = make_job({"id": "hello", "type": LOG, "message": "hello {{ inputs.name }}"}, {"inputs": {"name": "w"}})
    broken = make_job({"id": "broken", "type": RETURN, "format": "{{ outputs.nope.value }}"}, {"outputs": {}})
    events = results(kafka_settings)
    logs = Tail(kafka_settings, topics.logs, LogEntry.model_validate_json)
    metrics = Tail(kafka_settings, topics.metrics, MetricRecord.model_validate_json)
    dead = Tail(kafka_settings, topics.dead_letter, bytes)
    beats = Tail(kafka_settings, topics.worker_heartbeats, Heartbeat.model_validate_json)

    with running_worker(kafka_settings, worker_id="worker-a") as worker:
        send_jobs(producer, kafka_settings, ret, hello, broken)
        producer.send(topics.worker_jobs, b"garbage", b"not a worker job")
        producer.flush()
        items = events.wait_for(ended(ret, hello, broken))
        dead.wait_for(lambda got: len(got) == 1)
        logs.wait_for(lambda got: len(got) >= 2)
        metrics.wait_for(lambda got: len(got) >= 3)
        beats.wait_for(lambda got: len(got) >= 1)
        assert worker.worker_id == "worker-a"

    for job, final in ((ret, StateType.SUCCESS), (hello, StateType.SUCCESS), (broken, StateType.FAILED)):
        assert states(items, job) == [StateType.RUNNING, final]
        for result in of(items, job):
            assert isinstance(result, TaskResult)
            assert (result.execution_id, result.attempt, result.worker_id) == (
                job.task_run.execution_id,
                1,
                "worker-a",
            )
        last = of(items, job)[-1]
        assert [m.name for m in last.metrics] == ["duration"]
    # Keyed by execution id: every event of an execution lands in its partition.
    assert {m.key for m in events.messages} == {j.task_run.execution_id.encode() for j in (ret, hello, broken)}

    assert of(items, ret)[-1].outputs == {"value": ret.task_run.id}
    failure = of(items, broken)[-1]
    assert failure.error is not None and "task 'broken'" in failure.error and "nope" in failure.error

    by_task = {(e.task_id, e.level, e.message) for e in logs.items}
    assert ("hello", LogLevel.INFO, "hello w") in by_task
    assert ("broken", LogLevel.ERROR, failure.error) in by_task
    assert {m.key for m in logs.messages} == {hello.task_run.id.encode(), broken.task_run.id.encode()}

    assert {(r.task_run_id, r.entry.name) for r in metrics.items} >= {
        (j.task_run.id, "duration") for j in (ret, hello, broken)
    }

    [letter] = dead.messages
    assert (letter.key, letter.value) == (b"garbage", b"not a worker job")
    headers = dict(letter.headers)
    assert b"undecodable worker job" in headers["conveyor.reason"]
    assert headers["conveyor.service"] == b"worker"

    assert beats.items[0].worker_id == "worker-a"
    assert {m.key for m in beats.messages} == {b"worker-a"}
    for tail in (events, logs, metrics, dead, beats):
        tail.close()


def test_a_kill_stops_a_running_attempt(kafka_settings: KafkaSettings, producer: Producer) -> None:
    nap = make_job({"id": "nap", "type": SLEEP, "duration": "PT60S"})
    other = make_job({"id": "other", "type": SLEEP, "duration": "PT0.5S"})
    events = results(kafka_settings)
    with running_worker(kafka_settings):
        send_jobs(producer, kafka_settings, nap, other)
        events.wait_for(started(nap))
        killed_at = time.monotonic()
        send_kill(producer, kafka_settings, nap.task_run.execution_id)
        items = events.wait_for(ended(nap, other), timeout=10)
        assert time.monotonic() - killed_at < 5
    assert states(items, nap) == [StateType.RUNNING, StateType.KILLED]
    assert states(items, other) == [StateType.RUNNING, StateType.SUCCESS]  # another execution: untouched
    events.close()


def test_a_full_pool_takes_no_more_jobs(kafka_settings: KafkaSettings, producer: Producer) -> None:
    naps = [make_job({"id": f"nap{i}", "type": SLEEP, "duration": "PT0.5S"}) for i in range(3)]
    events = results(kafka_settings)
    with running_worker(kafka_settings, concurrency=1):
        send_jobs(producer, kafka_settings, *naps)
        items = events.wait_for(ended(*naps))
    spans = sorted((of(items, j)[0].date, of(items, j)[-1].date) for j in naps)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"two attempts ran at once: {spans}"
    assert all(states(items, j) == [StateType.RUNNING, StateType.SUCCESS] for j in naps)
    events.close()


def test_a_drain_finishes_short_attempts_and_leaves_long_ones_to_the_next_worker(
    kafka_settings: KafkaSettings, producer: Producer
) -> None:
    short = sleep_job("short", "PT1S")
    long = sleep_job("long", "PT60S")
    events = results(kafka_settings)
    with running_worker(kafka_settings, worker_id="first", drain_seconds=2.0):
        # One partition, `short` first: its offset can be committed while `long` still runs.
        send_jobs(producer, kafka_settings, short, long, key="same-partition")
        events.wait_for(started(short, long))
    # Stopped: the short attempt finished within the drain, the long one was abandoned unreported.
    items = events.wait_for(ended(short))
    assert states(items, short) == [StateType.RUNNING, StateType.SUCCESS]
    assert states(items, long) == [StateType.RUNNING]

    with running_worker(kafka_settings, worker_id="second"):
        items = events.wait_for(lambda got: len(of(got, long)) == 2)
        assert [(r.state, r.worker_id) for r in of(items, long)] == [
            (StateType.RUNNING, "first"),
            (StateType.RUNNING, "second"),
        ]
        send_kill(producer, kafka_settings, long.task_run.execution_id)
        events.wait_for(ended(long))
        items = events.read_for(1.0)  # long enough for a wrongly re-run `short` to report RUNNING
    assert states(items, short) == [StateType.RUNNING, StateType.SUCCESS]  # committed: never run again
    assert [(r.state, r.worker_id) for r in of(items, long)][-1] == (StateType.KILLED, "second")
    events.close()
