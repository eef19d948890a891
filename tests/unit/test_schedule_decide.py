"""The Schedule trigger's decisions with an injected clock: ticks, backfill, the three recover modes, late
slots, disable/enable, and one test per reference bug (kestra#18422, #14196, #16721, #6027)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.state import TriggerControl
from conveyor.scheduler import decide
from conveyor.scheduler.decide import first_state, recover, tick

TYPE = "io.kestra.plugin.core.trigger.Schedule"
T0 = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)


def minutely(**extra: object) -> Schedule:
    return Schedule.model_validate({"id": "m", "type": TYPE, "cron": "* * * * *", **extra})


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 12, 2, 10, minute, second, tzinfo=UTC)


def test_a_new_trigger_starts_at_the_next_slot_and_fires_nothing_of_the_past() -> None:
    state = first_state("ns", "f", minutely(), T0)
    assert state.next == at(1)
    assert tick(state, minutely(), T0).fires == []


def test_each_slot_fires_once_with_its_date_next_and_previous() -> None:
    schedule = minutely()
    state = first_state("ns", "f", schedule, T0)
    step = tick(state, schedule, at(1, 0))
    assert [(f.date, f.next, f.previous) for f in step.fires] == [(at(1), at(2), at(0))]
    assert step.state.last == at(1) and step.state.next == at(2)


def test_kestra_18422_one_slot_fires_once_however_often_it_is_evaluated() -> None:
    """1.3.30 fired one slot three times: evaluating again at the same or a later moment of the same slot
    (the state carried forward, or the same decision replayed) never fires it again, and a replayed
    decision gives the same execution id."""
    schedule = minutely()
    state = first_state("ns", "f", schedule, T0)
    first = tick(state, schedule, at(1, 0))
    again = [tick(first.state, schedule, at(1, s)).fires for s in (0, 0, 20, 59)]
    assert len(first.fires) == 1 and again == [[], [], [], []]
    replayed = tick(state, schedule, at(1, 0))
    assert [f.execution_id for f in replayed.fires] == [f.execution_id for f in first.fires]


def test_kestra_14196_two_replicas_deciding_the_same_slot_start_the_same_execution() -> None:
    """Two schedulers that both evaluate a trigger (a rebalance race) decide the same execution id, which
    the executor accepts once."""
    schedule = minutely()
    state = first_state("ns", "f", schedule, T0)
    replica_a = tick(state, schedule, at(1, 0)).fires
    replica_b = tick(state, schedule, at(1, 3)).fires
    assert [f.execution_id for f in replica_a] == [f.execution_id for f in replica_b]
    other_flow = tick(first_state("ns", "g", schedule, T0), schedule, at(1, 0)).fires
    assert other_flow[0].execution_id != replica_a[0].execution_id


def test_kestra_16721_re_enabling_does_not_skip_the_next_slot() -> None:
    for mode in ("ALL", "LAST", "NONE"):
        schedule = minutely(recoverMissedSchedules=mode)
        state = first_state("ns", "f", schedule, T0)
        state = decide.disable(state, at(0, 40))
        state = decide.enable(state, schedule, at(0, 50))
        assert [f.date for f in tick(state, schedule, at(1, 0)).fires] == [at(1)], mode


def test_kestra_6027_none_does_not_run_the_slots_missed_while_disabled() -> None:
    schedule = minutely(recoverMissedSchedules="NONE")
    state = first_state("ns", "f", schedule, T0)
    state = decide.disable(state, at(0, 40))
    assert tick(state, schedule, at(5, 30)).fires == []  # disabled: nothing fires
    state = decide.enable(state, schedule, at(5, 30))
    assert tick(state, schedule, at(5, 30)).fires == []
    assert [f.date for f in tick(state, schedule, at(6, 0)).fires] == [at(6)]


def test_all_runs_every_slot_missed_while_disabled_oldest_first() -> None:
    schedule = minutely(recoverMissedSchedules="ALL")
    state = decide.disable(first_state("ns", "f", schedule, T0), at(0, 40))
    state = decide.enable(state, schedule, at(3, 30))
    assert [f.date for f in tick(state, schedule, at(3, 30)).fires] == [at(1), at(2), at(3)]


def test_last_runs_only_the_latest_missed_slot() -> None:
    schedule = minutely(recoverMissedSchedules="LAST")
    state = decide.disable(first_state("ns", "f", schedule, T0), at(0, 40))
    state = decide.enable(state, schedule, at(3, 30))
    assert [f.date for f in tick(state, schedule, at(3, 30)).fires] == [at(3)]


def test_recover_after_the_scheduler_was_down() -> None:
    """The state says the next slot was 10:01; the scheduler comes back at 10:04:30."""
    expected = {"ALL": [at(1), at(2), at(3), at(4)], "LAST": [at(4)], "NONE": []}
    for mode, dates in expected.items():
        schedule = minutely(recoverMissedSchedules=mode)
        state = recover(first_state("ns", "f", schedule, T0), schedule, at(4, 30))
        assert [f.date for f in tick(state, schedule, at(4, 30)).fires] == dates, mode
        assert tick(state, schedule, at(5, 0)).state.next == at(6)


def test_late_maximum_delay_skips_slots_found_too_late() -> None:
    schedule = minutely(lateMaximumDelay="PT90S")
    state = first_state("ns", "f", schedule, T0)
    step = tick(state, schedule, at(3, 45))  # 10:01 and 10:02 are more than 90 s late, 10:03 is not
    assert [f.date for f in step.fires] == [at(3)]
    assert step.state.next == at(4)


def test_a_disabled_definition_fires_nothing() -> None:
    schedule = minutely(disabled=True)
    state = first_state("ns", "f", schedule, T0)
    assert tick(state, schedule, at(9)).fires == []


def test_backfill_fires_the_past_slots_in_order_labelled_then_ends() -> None:
    schedule = minutely(inputs={"x": 1})
    state = first_state("ns", "f", schedule, T0)
    start = at(0) - timedelta(minutes=3)
    request = TriggerControl(
        namespace="ns", flow_id="f", trigger_id="m", action="backfill", start=start, end=at(0), inputs={"y": 2},
        requested=T0,
    )  # fmt: skip
    state = decide.start_backfill(state, schedule, request)
    step = tick(state, schedule, T0, limit=2)
    assert [f.date.strftime("%H:%M") for f in step.fires] == ["09:57", "09:58"]
    assert all(f.backfill and f.labels["system.backfill"] == "true" for f in step.fires)
    assert all(f.inputs == {"x": 1, "y": 2} for f in step.fires)
    rest = tick(step.state, schedule, T0)
    assert [f.date.strftime("%H:%M") for f in rest.fires] == ["09:59", "10:00"]
    assert rest.state.backfill is None
    # A backfilled slot is a new execution, not the regular one of the same date.
    regular = tick(first_state("ns", "f", schedule, at(0) - timedelta(seconds=1)), schedule, at(0)).fires
    assert regular[0].date == rest.fires[-1].date and regular[0].execution_id != rest.fires[-1].execution_id


def test_the_definition_backfill_starts_with_the_trigger() -> None:
    schedule = minutely(backfill={"start": "2026-12-02T09:58:00Z"})
    state = first_state("ns", "f", schedule, T0)
    assert [f.date for f in tick(state, schedule, T0).fires] == [
        at(0) - timedelta(minutes=2),
        at(0) - timedelta(minutes=1),
        at(0),
    ]


def test_a_new_cron_starts_from_its_first_slot_after_the_change() -> None:
    state = first_state("ns", "f", minutely(), T0)
    hourly = minutely(cron="@hourly")
    moved = decide.redefined(state, hourly, at(0, 40))
    assert moved.next == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    assert decide.redefined(moved, hourly, at(30)) is moved
