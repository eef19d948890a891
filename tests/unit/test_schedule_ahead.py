"""Slots prepared ahead of their date are used only as they were decided: same state, not too late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.common.events import ExecutionCreated
from conveyor.common.loader import load_flow
from conveyor.common.triggers.schedule import Schedule
from conveyor.scheduler import ahead, decide, firing

FLOW = load_flow("""
id: f
namespace: ns
inputs:
  - {id: n, type: INT}
tasks:
  - {id: a, type: io.kestra.plugin.core.log.Log, message: "{{ trigger.date }}"}
triggers:
  - {id: m, type: io.kestra.plugin.core.trigger.Schedule, cron: "* * * * *", inputs: {n: "7"}, lateMaximumDelay: PT10S}
""")
SCHEDULE = FLOW.triggers[0]
T0 = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)
SLOT = datetime(2026, 12, 2, 10, 1, tzinfo=UTC)


def test_a_prepared_slot_is_the_execution_the_slot_would_start() -> None:
    assert isinstance(SCHEDULE, Schedule)
    state = decide.first_state("ns", "f", SCHEDULE, T0)
    prepared = ahead.prepare(state, SCHEDULE, FLOW, firing.flow_json(FLOW), SLOT)
    ((execution_id, encoded, date),) = prepared.events
    event = ExecutionCreated.model_validate_json(encoded)
    assert date == SLOT and event.execution_id == execution_id == decide.slot_execution_id(state, SLOT)
    assert event.execution.inputs == {"n": 7} and event.execution.trigger is not None
    assert event.execution.trigger.date == SLOT and event.flow["id"] == "f"
    assert prepared.step.state.next == SLOT + timedelta(minutes=1)


def test_it_is_used_only_for_the_same_state_at_or_after_its_date_and_not_too_late() -> None:
    assert isinstance(SCHEDULE, Schedule)
    state = decide.first_state("ns", "f", SCHEDULE, T0)
    prepared = ahead.prepare(state, SCHEDULE, FLOW, firing.flow_json(FLOW), SLOT)
    assert ahead.usable(prepared, state, SCHEDULE, SLOT + timedelta(seconds=1))
    assert not ahead.usable(prepared, state, SCHEDULE, SLOT - timedelta(seconds=1))
    assert not ahead.usable(prepared, state, SCHEDULE, SLOT + timedelta(seconds=11))  # lateMaximumDelay PT10S
    disabled = decide.disable(state, T0)
    assert not ahead.usable(prepared, disabled, SCHEDULE, SLOT)
    assert not ahead.usable(None, state, SCHEDULE, SLOT)
