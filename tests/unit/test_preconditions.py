"""Flow trigger preconditions across several flows, pure (`scheduler/preconditions.py`): which conditions an
ended execution meets, the windows (DURATION_WINDOW aligned to midnight UTC and shifted by windowAdvance,
SLIDING_WINDOW), firing once when all are met, resetOnSuccess, and the index filing such a trigger under each
upstream flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.flow import Flow
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.state import State, StateType
from conveyor.common.triggers.flow import FlowTrigger, Preconditions
from conveyor.common.triggers.state import PreconditionWindow
from conveyor.scheduler.flow_index import FlowTriggerIndex
from conveyor.scheduler.flow_match import matches
from conveyor.scheduler.preconditions import advance, condition_ids, eligible, met_by, window_of

S = StateType
DAY = datetime(2026, 12, 2, tzinfo=UTC)


def waiting(extra: str = "", where: str = "") -> Flow:
    return load_flow(f"""
id: c
namespace: team.c
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: x}}
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: both
      flows:
        - {{namespace: team.a, flowId: a, states: [SUCCESS]}}
        - {{namespace: team.b, flowId: b, states: [SUCCESS, WARNING]}}
{where}{extra}
""")


def trigger(flow: Flow) -> FlowTrigger:
    found = flow.triggers[0]
    assert isinstance(found, FlowTrigger)
    return found


def pre(flow: Flow) -> Preconditions:
    found = trigger(flow).preconditions
    assert found is not None
    return found


def ended(namespace: str, flow_id: str, state: StateType = S.SUCCESS, number: int = 1) -> Execution:
    return Execution(id=f"{flow_id}-{number}", namespace=namespace, flow_id=flow_id, flow_revision=1,
                     state=State.new(DAY).to(S.RUNNING, DAY).to(state, DAY))  # fmt: skip


def hours(h: float) -> datetime:
    return DAY + timedelta(hours=h)


def test_conditions_are_named_as_the_reference_and_met_by_their_flows() -> None:
    p = pre(
        waiting(
            where="      where:\n        - {id: ns, filters: [{field: NAMESPACE, type: STARTS_WITH, value: team}]}\n"
        )
    )
    assert condition_ids(p) == ["condition_1", "condition_2", "condition_3_ns"]
    assert met_by(p, ended("team.a", "a")) == ["condition_1", "condition_3_ns"]
    assert met_by(p, ended("team.b", "b", S.WARNING)) == ["condition_2", "condition_3_ns"]
    assert met_by(p, ended("team.a", "a", S.FAILED)) == ["condition_3_ns"]
    assert met_by(p, ended("other", "x")) == []
    assert trigger(waiting()).waits and not matches(trigger(waiting()), ended("team.a", "a"))
    assert eligible(trigger(waiting()), ended("team.a", "a"))


def test_duration_windows_start_at_midnight_utc_shifted_by_window_advance() -> None:
    assert window_of(pre(waiting()), hours(13)) == (DAY, DAY + timedelta(days=1))
    six = pre(waiting("      timeWindow: {type: DURATION_WINDOW, window: PT6H, windowAdvance: PT3H}\n"))
    assert window_of(six, hours(10)) == (hours(9), hours(15))
    assert window_of(six, hours(2)) == (hours(-3), hours(3))
    sliding = pre(waiting("      timeWindow: {type: SLIDING_WINDOW, window: PT1H}\n"))
    assert window_of(sliding, hours(10)) == (hours(9), hours(10))


def test_it_fires_once_when_all_flows_ended_in_the_window_then_starts_over() -> None:
    p = pre(waiting())
    first = advance(None, p, ["condition_1"], "a-1", hours(1))
    assert not first.fire and set(first.window.met) == {"condition_1"}
    again = advance(first.window, p, ["condition_1"], "a-2", hours(2))  # the same flow again: still waiting
    assert not again.fire
    done = advance(again.window, p, ["condition_2"], "b-1", hours(3))
    assert done.fire and done.by == ("a-2", "b-1") and done.window.met == {} and done.window.fired == 1
    # reset on success: B alone again does not fire a second time
    assert not advance(done.window, p, ["condition_2"], "b-2", hours(4)).fire


def test_a_condition_met_in_an_earlier_window_does_not_count() -> None:
    p = pre(waiting())
    yesterday = advance(None, p, ["condition_1"], "a-1", hours(-1))
    assert not advance(yesterday.window, p, ["condition_2"], "b-1", hours(1)).fire
    sliding = pre(waiting("      timeWindow: {type: SLIDING_WINDOW, window: PT1H}\n"))
    early = advance(None, sliding, ["condition_1"], "a-1", hours(1))
    assert not advance(early.window, sliding, ["condition_2"], "b-1", hours(2.5)).fire  # A fell out of the hour
    assert advance(early.window, sliding, ["condition_2"], "b-1", hours(1.5)).fire


def test_without_reset_on_success_each_later_end_fires_while_all_stay_met() -> None:
    p = pre(waiting("      resetOnSuccess: false\n"))
    step = advance(PreconditionWindow(), p, ["condition_1"], "a-1", hours(1))
    step = advance(step.window, p, ["condition_2"], "b-1", hours(2))
    assert step.fire
    step = advance(step.window, p, ["condition_2"], "b-2", hours(3))
    assert step.fire and step.by == ("a-1", "b-2") and step.window.fired == 2


def test_the_index_files_it_under_each_upstream_flow_and_never_for_itself() -> None:
    flow = waiting()
    index = FlowTriggerIndex()
    index.update("team.c/c", flow)
    assert len(index) == 1
    assert [c.flow.id for c in index.candidates("team.a", "a")] == ["c"]
    assert [c.flow.id for c in index.candidates("team.b", "b")] == ["c"]
    assert index.candidates("team.x", "y") == []


def test_daily_windows_are_refused_when_the_flow_loads() -> None:
    with pytest.raises(FlowError) as caught:
        waiting("      timeWindow: {type: DAILY_TIME_DEADLINE, deadline: '09:00:00'}\n")
    assert "timeWindow" in str(caught.value)
