"""The Flow trigger loop on the real broker: each ended execution starts the triggered flow exactly once,
across a crash in the middle of a batch (its transaction never committed, the batch read again by another
instance) and two instances sharing the partitions; a deleted flow's trigger stops; an undecodable snapshot
is dead-lettered and the loop goes on."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest

from conveyor.common.clock import utcnow
from conveyor.common.deployed import DeployedFlow
from conveyor.common.events import FLOW_HEADER, ExecutionCreated
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import State, StateType
from conveyor.scheduler.flow_triggers import FlowTriggers
from tests.integration.inprocess import InThreads

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DOWN = """
id: down
namespace: once
tasks:
  - {id: t, type: io.kestra.plugin.core.debug.Return, format: "{{ trigger.executionId }}"}
triggers:
  - id: after_up
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - {type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: once, flowId: up}
"""


def deploy(producer: Producer, topics: Topics, source: str, revision: int = 1, deleted: bool = False) -> None:
    flow = DeployedFlow(
        namespace="once", id="down", revision=revision, source=source, deployed_at=utcnow(), deleted=deleted
    )
    producer.send(topics.flows, flow.key, flow.to_json())
    producer.flush()


def end_executions(producer: Producer, topics: Topics, ids: list[str]) -> None:
    """The executor's final snapshots of `up` executions: ended SUCCESS, with the pinned-flow header."""
    for execution_id in ids:
        ended = Execution(id=execution_id, namespace="once", flow_id="up", state=State.new(utcnow(), StateType.SUCCESS))
        producer.send(topics.executions, execution_id, ended.to_json(), headers=[(FLOW_HEADER, b"{}")])
    producer.flush()


def creations(kafka: KafkaSettings, want: int, timeout: float = 120.0) -> Counter[str]:
    """How many committed `ExecutionCreated` each triggering execution got, once `want` of them have one."""
    topics = Topics.of(kafka)
    consumer = Consumer(kafka, f"test-count-{uuid.uuid4().hex[:8]}", [topics.execution_events])
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + timeout
    try:
        while len(counts) < want and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                created = ExecutionCreated.model_validate_json(msg.value or b"")
                assert created.execution.trigger is not None
                counts[created.execution.trigger.variables["executionId"]] += 1
        # what else is committed arrives within a few more polls
        for _ in range(6):
            for msg in consumer.consume(500, 0.5):
                created = ExecutionCreated.model_validate_json(msg.value or b"")
                assert created.execution.trigger is not None
                counts[created.execution.trigger.variables["executionId"]] += 1
    finally:
        consumer.close()
    return counts


def test_each_ended_execution_fires_once_across_a_crash_and_two_instances(kafka_settings: KafkaSettings) -> None:
    topics = Topics.of(kafka_settings)
    producer = Producer(kafka_settings)
    deploy(producer, topics, DOWN)
    ids = [f"up-{i}" for i in range(300)]
    end_executions(producer, topics, ids)

    crashed = FlowTriggers(kafka_settings)
    crashed.batch_size = 40
    deadline = time.monotonic() + 60
    while crashed.fired < 80 and time.monotonic() < deadline:
        crashed.run_once()
    assert crashed.fired >= 80
    # the crash: one more batch handled and its creations sent, the transaction never committed
    batch = crashed.consumer.consume(40, 5.0)
    assert batch
    crashed.producer.begin()
    for msg in batch:
        crashed._handle(msg)
    crashed.producer.poll(1.0)
    crashed.consumer.close()  # leaves the group: the others read that batch again from the committed offsets

    first, second = FlowTriggers(kafka_settings), FlowTriggers(kafka_settings)
    first.batch_size = second.batch_size = 40
    threads = InThreads([first, second])
    try:
        counts = creations(kafka_settings, len(ids))
    finally:
        threads.close()
        crashed.producer.abort()
    assert not threads.failures, threads.failures
    assert set(counts) == set(ids)
    assert [key for key, n in counts.items() if n != 1] == []
    assert crashed.fired > 80  # the crashed batch did fire (uncommitted) before it was read again


def test_a_deleted_flow_stops_firing_and_a_bad_snapshot_is_dead_lettered(kafka_settings: KafkaSettings) -> None:
    topics = Topics.of(kafka_settings)
    producer = Producer(kafka_settings)
    deploy(producer, topics, DOWN)
    loop = FlowTriggers(kafka_settings)
    try:
        end_executions(producer, topics, ["before-delete"])
        producer.send(topics.executions, "garbage", b"{not json", headers=[(FLOW_HEADER, b"{}")])
        producer.flush()
        deadline = time.monotonic() + 60
        while loop.fired < 1 and time.monotonic() < deadline:
            loop.run_once()
        deploy(producer, topics, DOWN, revision=2, deleted=True)
        end_executions(producer, topics, ["after-delete"])
        end_executions(producer, topics, ["marker"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and loop.run_once() == 0:
            pass
        for _ in range(4):
            loop.run_once()
        assert loop.fired == 1 and len(loop.index) == 0
    finally:
        loop.close()
    counts = creations(kafka_settings, 1, timeout=30)
    assert counts == Counter({"before-delete": 1})
    dead = Consumer(kafka_settings, f"test-dead-{uuid.uuid4().hex[:8]}", [topics.dead_letter])
    try:
        found: list[str] = []
        deadline = time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            found = [m.key_str for m in dead.consume(10, 0.5)]
    finally:
        dead.close()
    assert found == ["garbage"]
