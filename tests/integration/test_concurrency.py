"""Flow concurrency on the real broker: two executors (each with its slot keeper) and a worker in threads.
Executions of a limit-2 flow never run more than 2 at once and the queue drains in order; CANCEL and FAIL end
the newcomers; a killed queued execution ends KILLED without running and gives its place up."""

from __future__ import annotations

import time

import pytest

from conveyor.common.events import KillRequested
from conveyor.common.flow import Flow
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.settings import ExecutorSettings, KafkaSettings, WorkerSettings
from conveyor.common.state import StateType
from conveyor.executor.keeper import SlotKeeper
from conveyor.executor.service import Executor
from conveyor.worker.service import Worker
from tests.concurrency import first, most_at_once, out_of_order
from tests.integration.inprocess import InThreads, ended

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
S = StateType


def limited(flow_id: str, limit: int, behavior: str, duration: str = "PT0.2S") -> Flow:
    return load_flow(f"""
id: {flow_id}
namespace: conveyor.tests
concurrency: {{limit: {limit}, behavior: {behavior}}}
tasks:
  - {{id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: {duration}}}
""")


def services(kafka: KafkaSettings) -> InThreads:
    settings = ExecutorSettings(poll_timeout=0.05)
    return InThreads(
        [
            Executor(kafka, settings),
            SlotKeeper(kafka, settings),
            Executor(kafka, settings),
            SlotKeeper(kafka, settings),
            Worker(kafka, WorkerSettings(poll_timeout=0.05, concurrency=8)),
        ]
    )


def submit(kafka: KafkaSettings, flow: Flow, count: int) -> list[str]:
    producer = Producer(kafka)
    ids = []
    for _ in range(count):
        created = new_execution(flow)
        producer.send(Topics.of(kafka).execution_events, created.execution_id, created.to_json())
        ids.append(created.execution_id)
    producer.flush()
    return ids


def test_queue_never_runs_more_than_the_limit_and_drains_in_order(kafka_settings: KafkaSettings) -> None:
    threads = services(kafka_settings)
    try:
        ids = submit(kafka_settings, limited("queue", 2, "QUEUE"), 12)
        found = ended(kafka_settings, ids, timeout=120)
    finally:
        threads.close()
    assert not threads.failures, threads.failures
    assert sorted(e.state.current for e in found.values()) == [S.SUCCESS] * 12
    executions = list(found.values())
    assert most_at_once(executions) == 2
    assert out_of_order(executions) == []
    queued = [e for e in executions if first(e, S.QUEUED) is not None]
    assert len(queued) >= 8  # 12 at once against 2 slots
    for execution in queued:
        assert [h.state for h in execution.state.histories] == [S.CREATED, S.QUEUED, S.RUNNING, S.SUCCESS]


@pytest.mark.parametrize(("behavior", "state"), [("CANCEL", S.CANCELLED), ("FAIL", S.FAILED)])
def test_cancel_and_fail_end_the_newcomers(kafka_settings: KafkaSettings, behavior: str, state: StateType) -> None:
    threads = services(kafka_settings)
    try:
        flow = limited(behavior.lower(), 1, behavior, duration="PT3S")
        [holder] = submit(kafka_settings, flow, 1)
        time.sleep(1.0)  # the first one holds the slot
        others = submit(kafka_settings, flow, 3)
        found = ended(kafka_settings, [holder, *others], timeout=60)
    finally:
        threads.close()
    assert found[holder].state.current == S.SUCCESS
    for execution_id in others:
        execution = found[execution_id]
        assert [h.state for h in execution.state.histories] == [S.CREATED, state]
        assert execution.task_run_list == []


def test_a_killed_queued_execution_never_runs_and_the_next_takes_its_place(kafka_settings: KafkaSettings) -> None:
    threads = services(kafka_settings)
    try:
        flow = limited("kill", 1, "QUEUE", duration="PT2S")
        [holder] = submit(kafka_settings, flow, 1)
        time.sleep(0.5)
        victim, last = submit(kafka_settings, flow, 1)[0], submit(kafka_settings, flow, 1)[0]
        time.sleep(0.5)
        producer = Producer(kafka_settings)
        producer.send(Topics.of(kafka_settings).control, victim, KillRequested(execution_id=victim).to_json())
        producer.flush()
        found = ended(kafka_settings, [holder, victim, last], timeout=60)
    finally:
        threads.close()
    assert found[victim].state.current == S.KILLED and found[victim].task_run_list == []
    assert first(found[victim], S.RUNNING) is None
    assert found[last].state.current == S.SUCCESS
    assert most_at_once(found.values()) == 1
