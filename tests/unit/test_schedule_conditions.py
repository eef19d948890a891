"""Schedule conditions, pure: each type on the reference's test rows (DayWeekTest, DayWeekInMonthTest,
WeekendTest, DateTimeBetweenTest, TimeBetweenTest, NotTest, OrTest, ExpressionTest), then a Schedule with
conditions through `decide.tick` and an injected clock: only the slots that meet them fire, with the nearest
slots that meet them as `trigger.next`/`trigger.previous`; a condition that cannot be evaluated starts
nothing; `triggers list`'s next date is the next slot that will fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from conveyor.common.triggers.condition_base import Check, ConditionError
from conveyor.common.triggers.conditions import AnyCondition
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.slot_conditions import next_meeting
from conveyor.scheduler.decide import first_state, tick

N = "io.kestra.plugin.core.condition."
ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyCondition)
PARIS = ZoneInfo("Europe/Paris")


def holds(condition: dict[str, Any], context: dict[str, Any] | None = None) -> bool:
    return bool(ADAPTER.validate_python(condition).holds(Check(context or {}, ZoneInfo("UTC"))))


def day_week(date: str, day: str) -> dict[str, Any]:
    return {"type": f"{N}DayWeek", "date": date, "dayOfWeek": day}


def of(kind: str, *days: str) -> dict[str, Any]:
    """Not/Or over DayWeek conditions on 2013-09-08 (a Sunday)."""
    return {"type": f"{N}{kind}", "conditions": [day_week("2013-09-08", day) for day in days]}


def between(kind: str, date: str, **bounds: str) -> dict[str, Any]:
    return {"type": f"{N}{kind}", "date": date, **bounds}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # DayWeekTest
        (day_week("2013-09-08", "SUNDAY"), True),
        (day_week("2013-09-08", "MONDAY"), False),
        # DayWeekInMonthTest
        *[
            ({"type": f"{N}DayWeekInMonth", "date": d, "dayOfWeek": w, "dayInMonth": i}, r)
            for d, w, i, r in [
                ("2021-04-01", "MONDAY", "FIRST", False),
                ("2021-04-05", "MONDAY", "FIRST", True),
                ("2021-04-01", "THURSDAY", "FIRST", True),
                ("2021-04-01", "MONDAY", "LAST", False),
                ("2021-04-26", "MONDAY", "LAST", True),
                ("2021-04-12", "MONDAY", "SECOND", True),
                ("2021-04-19", "MONDAY", "THIRD", True),
                ("2021-04-26", "MONDAY", "FOURTH", True),
            ]
        ],
        # WeekendTest (and a date-time: its own local date)
        ({"type": f"{N}Weekend", "date": "2013-09-08"}, True),
        ({"type": f"{N}Weekend", "date": "2013-09-07"}, True),
        ({"type": f"{N}Weekend", "date": "2013-09-09T00:30:00+02:00"}, False),
        ({"type": f"{N}Weekend", "date": "{{ '2013-09-08T15:19:12.000000+02:00' | date('yyyy-MM-dd') }}"}, True),
        # DateTimeBetweenTest (strict bounds)
        ({"type": f"{N}DateTimeBetween", "date": "2013-09-08T16:19:12+02:00",
          "before": "2013-09-08T16:20:12+02:00", "after": "2013-09-08T16:18:12+02:00"}, True),
        (between("DateTimeBetween", "2013-09-08T16:19:12+02:00", before="2013-09-08T16:20:12+02:00"), True),
        ({"type": f"{N}DateTimeBetween", "date": "2013-09-08T16:19:12+02:00", "after": "2026-01-01T00:00:00Z"}, False),
        (between("DateTimeBetween", "2013-09-08T16:19:12+02:00", after="2013-09-08T16:19:12+02:00"), False),
        # TimeBetweenTest (offset times compare as instants of one day)
        ({"type": f"{N}TimeBetween", "date": "2024-02-21T16:19:12+02:00", "after": "16:19:11+02:00"}, True),
        ({"type": f"{N}TimeBetween", "date": "2024-02-21T16:19:12+02:00", "after": "17:19:12+02:00"}, False),
        ({"type": f"{N}TimeBetween", "date": "2024-02-21T16:19:12+02:00",
          "before": "16:20:12+02:00", "after": "16:18:12+02:00"}, True),
        ({"type": f"{N}TimeBetween", "date": "2024-02-21T16:19:12+02:00", "before": "16:20:12+02:00"}, True),
        ({"type": f"{N}TimeBetween", "date": "2024-02-21T16:19:12+02:00", "before": "16:18:12+02:00"}, False),
        ({"type": f"{N}TimeBetween", "date": "2024-02-21T16:19:12+02:00", "before": "15:00:00Z"}, True),
        # without an offset: the wall-clock time of the date
        ({"type": f"{N}TimeBetween", "date": "2024-02-21T16:19:12+02:00", "after": "09:00", "before": "17:00"}, True),
        ({"type": f"{N}TimeBetween", "date": "2024-02-21T18:19:12+02:00", "after": "09:00", "before": "17:00"}, False),
        # NotTest, OrTest
        (of("Not", "SUNDAY"), False),
        (of("Not", "SATURDAY", "MONDAY"), True),
        (of("Not", "SUNDAY", "MONDAY"), False),
        (of("Or", "SUNDAY"), True),
        (of("Or", "SATURDAY", "MONDAY"), False),
        (of("Or", "SUNDAY", "MONDAY"), True),
        # ExpressionTest, and what counts as false
        ({"type": f"{N}Expression", "expression": "{{ flow.id }}"}, True),
        ({"type": f"{N}Expression", "expression": "{{ flow.id == 'other' }}"}, False),
        ({"type": f"{N}Expression", "expression": "{{ '' }}  "}, False),
        # the older names
        ({"type": "io.kestra.core.models.conditions.types.DayWeekCondition", "date": "2013-09-08",
          "dayOfWeek": "SUNDAY"}, True),
    ],
)  # fmt: skip
def test_a_condition_holds_as_the_reference_says(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition, {"flow": {"id": "f", "namespace": "ns"}}) is expected


@pytest.mark.parametrize(
    "condition",
    [
        {"type": f"{N}Weekend", "date": "{{ trigger.nope }}"},  # does not render
        {"type": f"{N}Weekend", "date": "yesterday"},  # not a date
        {"type": f"{N}Expression", "expression": "{{ 1 / 0 }}"},
    ],
)
def test_a_condition_that_cannot_be_evaluated_says_why(condition: dict[str, Any]) -> None:
    with pytest.raises(ConditionError):
        holds(condition, {"trigger": {}})


def schedule(cron: str, conditions: list[dict[str, Any]], timezone: str = "UTC") -> Schedule:
    return Schedule.model_validate(
        {"id": "s", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": cron, "timezone": timezone,
         "conditions": conditions}
    )  # fmt: skip


def test_only_the_first_monday_of_the_month_fires_with_its_neighbours_that_meet_the_conditions() -> None:
    # the reference's example: 11:00 every Monday, and only the first Monday of the month
    first_monday = {"type": f"{N}DayWeekInMonth", "dayOfWeek": "MONDAY", "dayInMonth": "FIRST"}
    definition = schedule("0 11 * * 1", [first_monday], "Europe/Paris")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    state = first_state("ns", "f", definition, start)
    step = tick(state, definition, datetime(2027, 2, 1, tzinfo=UTC))
    dates = [f.date for f in step.fires]
    assert dates == [datetime(2026, 11, 2, 11, tzinfo=PARIS), datetime(2026, 12, 7, 11, tzinfo=PARIS),
                     datetime(2027, 1, 4, 11, tzinfo=PARIS)]  # fmt: skip
    december = step.fires[1]
    assert december.next == datetime(2027, 1, 4, 11, tzinfo=PARIS)  # not the Monday after
    assert december.previous == datetime(2026, 11, 2, 11, tzinfo=PARIS)
    assert step.state.last == dates[-1] and step.state.next == datetime(2027, 2, 1, 11, tzinfo=PARIS)
    # `triggers list` shows the next slot that will fire
    late_january = datetime(2027, 1, 11, 11, tzinfo=PARIS)
    assert next_meeting(definition, late_january, ("ns", "f")) == datetime(2027, 2, 1, 11, tzinfo=PARIS)


def test_office_hours_in_the_schedules_time_zone_on_weekdays() -> None:
    office: list[dict[str, Any]] = [
        {"type": f"{N}TimeBetween", "after": "08:59", "before": "17:00"},
        {"type": f"{N}Not", "conditions": [{"type": f"{N}Weekend"}]},
    ]
    definition = schedule("0 * * * *", office, "Europe/Paris")
    friday = datetime(2026, 12, 4, 0, 30, tzinfo=UTC)
    state = first_state("ns", "f", definition, friday)
    monday = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # 11:30 in Paris
    fires = tick(state, definition, monday).fires  # Friday, the weekend, Monday morning
    hours = [(f.date.day, f.date.hour) for f in fires]
    assert hours == [(4, h) for h in range(9, 17)] + [(7, h) for h in range(9, 12)]
    assert fires[7].next == datetime(2026, 12, 7, 9, tzinfo=PARIS)  # Friday 16:00 -> Monday 09:00


def test_an_expression_on_the_slot_and_one_that_fails_starts_nothing() -> None:
    even = schedule("* * * * *", [{"type": f"{N}Expression", "expression": "{{ trigger.date[14:16] | int % 2 == 0 }}"}])
    start = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)
    fires = tick(first_state("ns", "f", even, start), even, start + timedelta(minutes=5)).fires
    assert [f.date.minute for f in fires] == [2, 4]
    broken = schedule("* * * * *", [{"type": f"{N}Expression", "expression": "{{ trigger.nope.deeper }}"}])
    step = tick(first_state("ns", "f", broken, start), broken, start + timedelta(minutes=5))
    assert step.fires == [] and step.state.next == datetime(2026, 12, 2, 10, 6, tzinfo=UTC)  # skipped, not stuck
