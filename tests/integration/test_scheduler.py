"""The scheduler's Kafka shell on the real broker: deployed Schedule triggers fire their slots as
`ExecutionCreated` events with the trigger block, control requests disable/enable/backfill them, deleting a
flow stops its triggers, and an undecodable control record is dead-lettered while the scheduler goes on."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.api.catalog import FlowCatalog
from conveyor.common.events import ExecutionCreated
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.follow import Follower
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings, SchedulerSettings
from conveyor.common.triggers import admin
from conveyor.common.triggers.state import Action, TriggerState
from conveyor.scheduler.service import Scheduler
from tests.integration.inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def flow_source(flow_id: str, cron: str = "* * * * * *", **trigger: str) -> str:
    extra = "".join(f"\n    {k}: {v}" for k, v in trigger.items())
    return f"""
id: {flow_id}
namespace: conveyor.tests
tasks:
  - {{id: say, type: io.kestra.plugin.core.debug.Return, format: "{{{{ trigger.date }}}}"}}
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "{cron}"
    withSeconds: true{extra}
"""


def scheduler(settings: KafkaSettings) -> AbstractContextManager[Scheduler]:
    return serving(Scheduler(settings, SchedulerSettings(poll_timeout=0.05, flows_refresh=0.2)))


@pytest.fixture
def catalog(kafka_settings: KafkaSettings) -> Iterator[FlowCatalog]:
    producer = Producer(kafka_settings)
    found = FlowCatalog(kafka_settings, producer)
    yield found
    found.close()


def created(follower: Follower, flow_id: str, count: int, timeout: float = 30.0) -> list[ExecutionCreated]:
    out: list[ExecutionCreated] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        for msg in follower.poll(0.2):
            event = ExecutionCreated.model_validate_json(msg.value or b"")
            if event.execution.flow_id == flow_id:
                out.append(event)
    return out


def test_a_deployed_schedule_fires_each_second_with_its_trigger_block(
    kafka_settings: KafkaSettings, catalog: FlowCatalog
) -> None:
    follower = Follower(kafka_settings, [Topics.of(kafka_settings).execution_events])
    with scheduler(kafka_settings):
        catalog.deploy(flow_source("every", labels="{team: data}"))
        events = created(follower, "every", 3)
    assert len(events) == 3
    triggers = [e.execution.trigger for e in events]
    assert all(t is not None and t.id == "tick" and t.type.endswith("trigger.Schedule") for t in triggers)
    dates = [t.date for t in triggers if t is not None and t.date is not None]
    assert [b - a for a, b in itertools.pairwise(dates)] == [timedelta(seconds=1)] * 2
    first = triggers[0]
    assert first is not None and first.date is not None
    assert first.next == first.date + timedelta(seconds=1) and first.previous == first.date - timedelta(seconds=1)
    assert {(label.key, label.value) for label in events[0].execution.labels} >= {("team", "data")}
    state = {
        msg.key: TriggerState.model_validate_json(msg.value)
        for msg in read_partitions_to_end(
            kafka_settings, [(Topics.of(kafka_settings).trigger_state, p) for p in (0, 1)]
        )
        if msg.value
    }
    assert state[b"conveyor.tests/every/tick"].last is not None


def test_disable_enable_and_backfill_through_control_requests(
    kafka_settings: KafkaSettings, catalog: FlowCatalog
) -> None:
    producer = Producer(kafka_settings)
    follower = Follower(kafka_settings, [Topics.of(kafka_settings).execution_events])
    with scheduler(kafka_settings):
        catalog.deploy(flow_source("ctl", recoverMissedSchedules="NONE"))
        assert created(follower, "ctl", 1)
        admin.request(kafka_settings, producer, "conveyor.tests", "ctl", "tick", Action.DISABLE)
        time.sleep(1.0)  # the request is applied within a poll
        list(follower.poll(0.5))  # slots fired before the request was applied
        assert created(follower, "ctl", 1, timeout=3.0) == []
        rows = {r.trigger_id: r for r in admin.list_triggers(kafka_settings, "conveyor.tests")}
        assert rows["tick"].enabled is False and rows["tick"].disabled_by == "request"
        admin.request(kafka_settings, producer, "conveyor.tests", "ctl", "tick", Action.ENABLE)
        after = created(follower, "ctl", 1)
        assert after and after[0].execution.trigger is not None
        start = datetime(2026, 1, 1, tzinfo=UTC)
        admin.request(
            kafka_settings, producer, "conveyor.tests", "ctl", "tick", Action.BACKFILL,
            start=start, end=start + timedelta(seconds=2),
        )  # fmt: skip
        backfilled = [e for e in created(follower, "ctl", 12) if e.execution.trigger and e.execution.trigger.date
                      and e.execution.trigger.date < start + timedelta(days=1)]  # fmt: skip
    assert sorted(e.execution.trigger.date for e in backfilled if e.execution.trigger and e.execution.trigger.date) == [
        start, start + timedelta(seconds=1), start + timedelta(seconds=2)
    ]  # fmt: skip
    assert all({"key": "system.backfill", "value": "true"} in e.to_dict()["execution"]["labels"] for e in backfilled)


def test_deleting_a_flow_stops_its_triggers_and_bad_control_is_dead_lettered(
    kafka_settings: KafkaSettings, catalog: FlowCatalog
) -> None:
    topics = Topics.of(kafka_settings)
    producer = Producer(kafka_settings)
    follower = Follower(kafka_settings, [topics.execution_events])
    dead = Follower(kafka_settings, [topics.dead_letter])
    with scheduler(kafka_settings):
        catalog.deploy(flow_source("gone"))
        assert created(follower, "gone", 1)
        producer.send(topics.trigger_control, "x", b"{not json", partition=0)
        producer.send(topics.flows, "conveyor.tests/gone", None)  # deleted
        producer.flush()
        time.sleep(1.5)
        list(follower.poll(0.5))
        assert created(follower, "gone", 1, timeout=3.0) == []
        letters = [m for _ in range(20) for m in dead.poll(0.3)]
        assert any(m.value == b"{not json" for m in letters)
        catalog.deploy(flow_source("alive"))
        assert created(follower, "alive", 1), "the scheduler went on after the bad record"


def test_an_undecodable_trigger_state_record_is_dead_lettered_and_the_rest_loads(
    kafka_settings: KafkaSettings, catalog: FlowCatalog
) -> None:
    topics = Topics.of(kafka_settings)
    producer = Producer(kafka_settings)
    producer.send(topics.trigger_state, "conveyor.tests/broken/tick", b"{broken", partition=0)
    producer.flush()
    dead = Follower(kafka_settings, [topics.dead_letter])
    follower = Follower(kafka_settings, [topics.execution_events])
    with scheduler(kafka_settings):
        catalog.deploy(flow_source("after-broken"))
        assert created(follower, "after-broken", 1)
        letters = [m for _ in range(20) for m in dead.poll(0.3)]
    assert any(m.value == b"{broken" for m in letters)


def test_a_schedule_with_conditions_fires_only_the_slots_that_meet_them(
    kafka_settings: KafkaSettings, catalog: FlowCatalog
) -> None:
    # every second, but only the even ones (an Expression on the slot's own date)
    even = (
        '[{type: io.kestra.plugin.core.condition.Expression, expression: "{{ trigger.date[17:19] | int % 2 == 0 }}"}]'
    )
    follower = Follower(kafka_settings, [Topics.of(kafka_settings).execution_events])
    with scheduler(kafka_settings):
        catalog.deploy(flow_source("even", conditions=even))
        events = created(follower, "even", 3)
    triggers = [e.execution.trigger for e in events]
    dates = [t.date for t in triggers if t is not None and t.date is not None]
    assert len(dates) == 3 and all(d.second % 2 == 0 for d in dates)
    assert [b - a for a, b in itertools.pairwise(dates)] == [timedelta(seconds=2)] * 2  # none in between skipped
    first = triggers[0]
    assert first is not None and first.date is not None
    assert first.next == first.date + timedelta(seconds=2) and first.previous == first.date - timedelta(seconds=2)


def test_a_backfill_on_working_days_skips_the_public_holidays_and_weekends(
    kafka_settings: KafkaSettings, catalog: FlowCatalog
) -> None:
    # 09:00 in Paris each day, but not on a French public holiday nor a weekend (the reference's example)
    working = (
        "[{type: io.kestra.plugin.core.condition.Not, conditions: ["
        "{type: io.kestra.plugin.core.condition.PublicHoliday, country: FR},"
        "{type: io.kestra.plugin.core.condition.Weekend}]}]"
    )
    producer = Producer(kafka_settings)
    follower = Follower(kafka_settings, [Topics.of(kafka_settings).execution_events])
    start, end = datetime(2025, 12, 22, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)
    with scheduler(kafka_settings):
        catalog.deploy(flow_source("workdays", "0 0 9 * * *", timezone="Europe/Paris", conditions=working))
        time.sleep(1.0)  # deployed and owned: its first state is kept before the backfill request
        admin.request(kafka_settings, producer, "conveyor.tests", "workdays", "tick", Action.BACKFILL,
                      start=start, end=end)  # fmt: skip
        events = created(follower, "workdays", 9, timeout=60.0)
    # (a regular slot, should the test run at 09:00 in Paris, is left out: only the backfilled dates)
    days = sorted(e.execution.trigger.date.date().isoformat() for e in events if e.execution.trigger and
                  e.execution.trigger.date and e.execution.trigger.date < end)  # fmt: skip
    assert days == ["2025-12-22", "2025-12-23", "2025-12-24", "2025-12-26", "2025-12-29", "2025-12-30",
                    "2025-12-31", "2026-01-02", "2026-01-05"]  # fmt: skip
    # nothing more comes: Christmas, New Year's Day and the weekends started nothing
    assert [e for e in created(follower, "workdays", 1, timeout=3.0) if e.execution.trigger
            and e.execution.trigger.date and e.execution.trigger.date < end] == []  # fmt: skip
