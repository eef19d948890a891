"""`stopAfter`, pure: the notice an ended execution causes (`scheduler/stop_after.py`), and the scheduler's
decision on it (`decide.stop_after` through `apply_control`): disabled with the execution and state recorded,
idempotent, enabled again by `enable` (which clears the record and does not skip the next slot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.common.loader import load_flow
from conveyor.common.model import Execution, ExecutionTrigger
from conveyor.common.state import State, StateType
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.state import Action, TriggerControl
from conveyor.scheduler import decide
from conveyor.scheduler.control import apply_control
from conveyor.scheduler.decide import first_state, tick
from conveyor.scheduler.stop_after import StopAfterIndex

S = StateType
TYPE = "io.kestra.plugin.core.trigger.Schedule"
T0 = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)
DEPLOYED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 12, 2, 10, minute, second, tzinfo=UTC)


def schedule(stop_after: list[str]) -> Schedule:
    return Schedule.model_validate({"id": "m", "type": TYPE, "cron": "* * * * *", "stopAfter": stop_after})


FLOW = load_flow("""
id: f
namespace: ns
tasks:
  - {id: t, type: io.kestra.plugin.core.debug.Return, format: x}
triggers:
  - {id: m, type: io.kestra.plugin.core.trigger.Schedule, cron: "* * * * *", stopAfter: [FAILED, KILLED]}
  - {id: plain, type: io.kestra.plugin.core.trigger.Schedule, cron: "* * * * *"}
""")


def ended(state: StateType, trigger_id: str | None = "m", flow_id: str = "f", end: datetime = T0) -> Execution:
    return Execution(
        id=f"ex-{state.value}",
        namespace="ns",
        flow_id=flow_id,
        flow_revision=1,
        state=State(current=state, histories=State.new(end).histories),
        trigger=ExecutionTrigger(id=trigger_id, type=TYPE) if trigger_id else None,
    )


def test_an_end_in_a_stop_after_state_gives_a_notice_for_the_trigger_in_its_flow() -> None:
    index = StopAfterIndex()
    index.update("ns/f", FLOW, DEPLOYED)
    assert len(index) == 1
    notice = index.notice(ended(S.FAILED), T0, T0)
    assert notice is not None
    assert (notice.key, notice.action, notice.execution_id, notice.state) == ("ns/f/m", Action.STOP_AFTER,
                                                                              "ex-FAILED", S.FAILED)  # fmt: skip
    again = index.notice(ended(S.FAILED), T0, T0)
    assert again is not None and again.request_id == notice.request_id  # derived: a replay is the same notice


def test_no_notice_for_other_states_triggers_flows_manual_runs_or_ends_before_the_deploy() -> None:
    index = StopAfterIndex()
    index.update("ns/f", FLOW, DEPLOYED)
    assert index.notice(ended(S.SUCCESS), T0, T0) is None  # not one of its states
    assert index.notice(ended(S.FAILED, trigger_id="plain"), T0, T0) is None  # no stopAfter
    assert index.notice(ended(S.FAILED, trigger_id=None), T0, T0) is None  # started by hand
    assert index.notice(ended(S.FAILED, flow_id="g"), T0, T0) is None  # another flow
    early = DEPLOYED - timedelta(minutes=1)
    assert index.notice(ended(S.FAILED, end=early), early, T0) is None  # ended before this definition
    index.update("ns/f", None)  # deleted
    assert index.notice(ended(S.FAILED), T0, T0) is None and len(index) == 0


def notice(state: StateType, execution_id: str = "ex-1") -> TriggerControl:
    return TriggerControl(namespace="ns", flow_id="f", trigger_id="m", action=Action.STOP_AFTER,
                          execution_id=execution_id, state=state, requested=T0)  # fmt: skip


def test_the_scheduler_disables_the_trigger_and_records_why() -> None:
    definition = schedule(["FAILED"])
    state = first_state("ns", "f", definition, T0)
    stopped = apply_control(state, definition, notice(S.FAILED), at(1, 5))
    assert stopped.disabled and stopped.disabled_at == at(1, 5)
    assert stopped.stopped_after is not None
    assert (stopped.stopped_after.execution_id, stopped.stopped_after.state) == ("ex-1", S.FAILED)
    assert tick(stopped, definition, at(5)).fires == []  # nothing fires any more
    # A replayed or later notice changes nothing: the first stop is what is recorded.
    assert apply_control(stopped, definition, notice(S.FAILED, "ex-2"), at(2)) == stopped


def test_the_definition_decides_a_state_not_in_stop_after_leaves_it_enabled() -> None:
    definition = schedule(["FAILED"])
    state = first_state("ns", "f", definition, T0)
    assert apply_control(state, definition, notice(S.SUCCESS), at(1)) == state
    # The definition changed since the notice was sent: the current one is read.
    assert apply_control(state, schedule([]), notice(S.FAILED), at(1)) == state


def test_enabling_after_a_stop_clears_the_record_and_fires_the_next_slot() -> None:
    definition = schedule(["FAILED"])
    state = first_state("ns", "f", definition, T0)
    stopped = decide.stop_after(state, definition, "ex-1", S.FAILED, at(0, 40))
    enabled = decide.enable(stopped, definition, at(0, 50))
    assert not enabled.disabled and enabled.stopped_after is None
    assert [f.date for f in tick(enabled, definition, at(1)).fires] == [at(1)]
