"""Flow concurrency on the real broker: two executors (each with its slot keeper) and a worker in threads.
Executions of a limit-2 flow never run more than 2 at once and the queue drains in order; CANCEL and FAIL end
the newcomers; a killed queued execution ends KILLED without running and gives its place up."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from conveyor.common.events import KillRequested
from conveyor.common.flow import Flow
from conveyor.common.kafka.executions import ExecutionReader
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow, load_flow_file
from conveyor.common.settings import ExecutorSettings, KafkaSettings, WorkerSettings
from conveyor.common.state import StateType
from conveyor.executor.keeper import SlotKeeper
from conveyor.executor.service import Executor
from conveyor.worker.service import Worker
from tests.concurrency import first, most_at_once, out_of_order
from tests.conformance import CORPUS
from tests.integration.inprocess import InThreads, ended

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
S = StateType
# The reference's FlowConcurrencyCaseTest, on its own flows (tests/corpus/kestra/README.md).
CORPUS_CASES: list[dict[str, Any]] = json.loads((CORPUS / "concurrency.json").read_text())


def limited(flow_id: str, limit: int, behavior: str, duration: str = "PT0.2S") -> Flow:
    return load_flow(f"""
id: {flow_id}
namespace: conveyor.tests
concurrency: {{limit: {limit}, behavior: {behavior}}}
tasks:
  - {{id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: {duration}}}
""")


def services(kafka: KafkaSettings, pairs: int = 2) -> InThreads:
    """`pairs` executors with their slot keepers, and a worker; with one pair, once it has its partitions (the
    tests that time a second execution against a first one's run must not wait behind a rebalance)."""
    settings = ExecutorSettings(poll_timeout=0.05)
    owners: list[Executor | SlotKeeper] = []
    for _ in range(pairs):
        owners += [Executor(kafka, settings), SlotKeeper(kafka, settings)]
    threads = InThreads([*owners, Worker(kafka, WorkerSettings(poll_timeout=0.05, concurrency=8))])
    if pairs == 1:
        for owner in owners:
            assert owner.ready.wait(30), f"the {type(owner).__name__} got no partitions"
    return threads


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
    threads = services(kafka_settings, pairs=1)
    try:
        flow = limited(behavior.lower(), 1, behavior, duration="PT60S")
        [holder] = submit(kafka_settings, flow, 1)
        reached(kafka_settings, [holder], {S.RUNNING})
        others = submit(kafka_settings, flow, 3)
        reached(kafka_settings, others, {state})
        kill(kafka_settings, holder)
        found = ended(kafka_settings, [holder, *others], timeout=60)
    finally:
        threads.close()
    assert found[holder].state.current == S.KILLED
    for execution_id in others:
        execution = found[execution_id]
        assert [h.state for h in execution.state.histories] == [S.CREATED, state]
        assert execution.task_run_list == []


def test_a_killed_queued_execution_never_runs_and_the_next_takes_its_place(kafka_settings: KafkaSettings) -> None:
    threads = services(kafka_settings, pairs=1)
    try:
        flow = limited("kill", 1, "QUEUE", duration="PT60S")
        [holder] = submit(kafka_settings, flow, 1)
        reached(kafka_settings, [holder], {S.RUNNING})
        [victim] = submit(kafka_settings, flow, 1)
        reached(kafka_settings, [victim], {S.QUEUED})
        [last] = submit(kafka_settings, flow, 1)
        reached(kafka_settings, [last], {S.QUEUED})
        kill(kafka_settings, victim)
        reached(kafka_settings, [victim], {S.KILLED})
        kill(kafka_settings, holder)  # its slot goes to the next in the queue: the last one, not the killed one
        reached(kafka_settings, [last], {S.RUNNING})
        kill(kafka_settings, last)
        found = ended(kafka_settings, [holder, victim, last], timeout=60)
    finally:
        threads.close()
    assert found[victim].state.current == S.KILLED and found[victim].task_run_list == []
    assert [h.state for h in found[victim].state.histories] == [S.CREATED, S.QUEUED, S.KILLING, S.KILLED]
    assert [h.state for h in found[last].state.histories] == [S.CREATED, S.QUEUED, S.RUNNING, S.KILLING, S.KILLED]
    assert most_at_once(found.values()) == 1


def kill(kafka: KafkaSettings, execution_id: str) -> None:
    producer = Producer(kafka)
    producer.send(Topics.of(kafka).control, execution_id, KillRequested(execution_id=execution_id).to_json())
    producer.flush()


def reached(kafka: KafkaSettings, ids: list[str], states: set[StateType], timeout: float = 60.0) -> None:
    """Until each execution is in one of `states` (RUNNING or PAUSED: the reference's `runOneUntilRunning`)."""
    reader = ExecutionReader(kafka, set(ids))
    deadline = time.monotonic() + timeout
    try:
        waiting = set(ids)
        while waiting and time.monotonic() < deadline:
            reader.poll(0.1)
            for execution_id in list(waiting):
                found = reader.execution(execution_id)
                if found is not None and found.state.current in states:
                    waiting.discard(execution_id)
        assert not waiting, f"never {states}: {waiting}"
    finally:
        reader.close()


def test_the_references_concurrency_cases_hold(kafka_settings: KafkaSettings) -> None:
    flows = [load_flow_file(CORPUS / case["flow"]) for case in CORPUS_CASES]
    threads = services(kafka_settings, pairs=1)
    try:
        # Two executions of each flow at once: the one whose request reaches the keeper first runs (the Java
        # test waits for the first to run; on a loaded machine a wait can outlast its 1-2 s run).
        pairs = [submit(kafka_settings, flow, 2) for flow in flows]
        found = ended(kafka_settings, [i for pair in pairs for i in pair], timeout=120)
    finally:
        threads.close()
    for case, pair in zip(CORPUS_CASES, pairs, strict=True):
        expect = case["expect"]
        ran = [i for i in pair if found[i].state.histories[1].state == S.RUNNING]
        assert len(ran) == 1, (case["flow"], [found[i].state for i in pair])
        [second] = set(pair) - set(ran)
        assert found[ran[0]].state.current == expect["first"]["state"], case["flow"]
        assert found[second].state.current == expect["second"]["state"], case["flow"]
        prefix = [h.state.value for h in found[second].state.histories][: len(expect["second"]["historiesStartWith"])]
        assert prefix == expect["second"]["historiesStartWith"], case["flow"]
