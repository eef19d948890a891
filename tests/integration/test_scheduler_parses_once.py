"""One `conveyor scheduler` process parses each deployed flow once, on the real broker: its Schedule loop
and its Flow trigger loop (two readers of `flows`, two threads) share one `ParsedFlows`, so 30 flows, each
with a Schedule and a Flow trigger, cost 30 parses however the two loops interleave; both loops work with
what was shared (the Flow trigger fires for an ended execution, the Schedules are active)."""

from __future__ import annotations

import time

import pytest

from conveyor.api.catalog import FlowCatalog
from conveyor.common.clock import utcnow
from conveyor.common.events import FLOW_HEADER, ExecutionCreated
from conveyor.common.kafka.follow import Follower
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings, SchedulerSettings
from conveyor.common.state import State, StateType
from conveyor.scheduler.flow_triggers import FlowTriggers
from conveyor.scheduler.parsed import ParsedFlows
from conveyor.scheduler.service import Scheduler
from tests.integration.inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

NS = "parse.once"
FLOWS = 30


def source(i: int) -> str:
    return f"""
id: f{i}
namespace: {NS}
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: x}}
triggers:
  - {{id: yearly, type: io.kestra.plugin.core.trigger.Schedule, cron: "0 0 1 1 *"}}
  - id: after_up
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - {{type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: {NS}, flowId: up}}
"""


def test_both_loops_of_one_scheduler_share_one_parse_of_each_flow(kafka_settings: KafkaSettings) -> None:
    producer = Producer(kafka_settings)
    catalog = FlowCatalog(kafka_settings, producer)
    for i in range(FLOWS):
        catalog.deploy(source(i))
    catalog.close()
    topics = Topics.of(kafka_settings)
    follower = Follower(kafka_settings, [topics.execution_events])
    parsed = ParsedFlows()
    settings = SchedulerSettings(poll_timeout=0.05, flows_refresh=0.2)
    with (
        serving(Scheduler(kafka_settings, settings, parsed=parsed)) as schedules,
        serving(FlowTriggers(kafka_settings, parsed)) as flow_loop,
    ):
        ended = Execution(id="up-1", namespace=NS, flow_id="up", state=State.new(utcnow(), StateType.SUCCESS))
        producer.send(topics.executions, ended.id, ended.to_json(), headers=[(FLOW_HEADER, b"{}")])
        producer.flush()
        started: set[str] = set()
        deadline = time.monotonic() + 90
        while len(started) < FLOWS and time.monotonic() < deadline:
            for msg in follower.poll(0.3):
                created = ExecutionCreated.model_validate_json(msg.value or b"")
                if created.execution.trigger and created.execution.trigger.variables.get("executionId") == ended.id:
                    started.add(created.execution.flow_id)
        active = len(schedules.active)
        indexed = len(flow_loop.index)
    assert started == {f"f{i}" for i in range(FLOWS)}  # the Flow trigger loop read every flow
    assert active == FLOWS and indexed == FLOWS  # each loop holds every flow's triggers
    assert parsed.parsed == FLOWS, f"{parsed.parsed} parses for {FLOWS} flows ({parsed.shared} shared)"
    assert parsed.shared >= FLOWS  # the other loop got each one from the first
