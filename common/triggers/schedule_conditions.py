"""Conditions on a Schedule's slot date (a Schedule trigger's `conditions`), under the reference's type names.

Each is checked when a slot is due, with `{{ trigger.date }}`, `{{ trigger.next }}` and
`{{ trigger.previous }}` of that slot (ISO date-times in the schedule's time zone; also as `schedule.*`) and
`{{ flow.id }}`/`{{ flow.namespace }}`: a slot whose conditions do not all hold starts nothing.

- DayWeek (`dayOfWeek`), DayWeekInMonth (`dayOfWeek`, `dayInMonth`: FIRST, SECOND, THIRD, FOURTH, LAST),
  Weekend: the local date of `date` (default `{{ trigger.date }}`);
- DateTimeBetween (`after`, `before`: date-times; strict bounds), TimeBetween (`after`, `before`: times; with
  an offset they compare as instants of one day, as the reference's OffsetTime; without one, as wall-clock
  times of `date`);
- PublicHoliday (`public_holiday`).

Expression, Not and Or go with these too (`logical`). A `date` that does not render or parse raises
`ConditionError` (`condition_base.Check`).
"""

from __future__ import annotations

import calendar
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import model_validator

from conveyor.common.triggers.condition_base import Check, Condition, ConditionError, names

__all__ = ["DATE_CONDITIONS", "Check", "ConditionError", "ScheduleCondition"]

TRIGGER_DATE = "{{ trigger.date }}"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @property
    def number(self) -> int:
        """Monday 0 … Sunday 6, as `date.weekday()`."""
        return list(DayOfWeek).index(self)


class DayInMonth(StrEnum):
    FIRST = "FIRST"
    SECOND = "SECOND"
    THIRD = "THIRD"
    FOURTH = "FOURTH"
    LAST = "LAST"


class ScheduleCondition(Condition):
    """A condition on a Schedule's slot date."""


class DayWeek(ScheduleCondition):
    """The date is that day of the week."""

    type_names = names("DayWeek")
    date: str = TRIGGER_DATE
    day_of_week: DayOfWeek

    def holds(self, check: Check) -> bool:
        return check.local_date(self.date).weekday() == self.day_of_week.number


class DayWeekInMonth(ScheduleCondition):
    """The date is the first (second, third, fourth, last) such day of the week of its month."""

    type_names = names("DayWeekInMonth")
    date: str = TRIGGER_DATE
    day_of_week: DayOfWeek
    day_in_month: DayInMonth

    def holds(self, check: Check) -> bool:
        day = check.local_date(self.date)
        if day.weekday() != self.day_of_week.number:
            return False
        if self.day_in_month is DayInMonth.LAST:
            return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        return (day.day - 1) // 7 == list(DayInMonth).index(self.day_in_month)


class Weekend(ScheduleCondition):
    """The date is a Saturday or a Sunday."""

    type_names = names("Weekend")
    date: str = TRIGGER_DATE

    def holds(self, check: Check) -> bool:
        return check.local_date(self.date).weekday() >= DayOfWeek.SATURDAY.number


class DateTimeBetween(ScheduleCondition):
    """The date is after `after` and before `before` (either may be left out, not both)."""

    type_names = names("DateTimeBetween")
    date: str = TRIGGER_DATE
    after: datetime | None = None
    before: datetime | None = None

    @model_validator(mode="after")
    def _bounded(self) -> DateTimeBetween:
        if self.after is None and self.before is None:
            raise ValueError("give `after`, `before` or both")
        return self

    def holds(self, check: Check) -> bool:
        at = check.date_time(self.date)
        after, before = (_aware(b, check.zone) for b in (self.after, self.before))
        return (after is None or at > after) and (before is None or at < before)


class TimeBetween(ScheduleCondition):
    """The time of the date is after `after` and before `before` (either may be left out, not both)."""

    type_names = names("TimeBetween")
    date: str = TRIGGER_DATE
    after: time | None = None
    before: time | None = None

    @model_validator(mode="after")
    def _bounded(self) -> TimeBetween:
        if self.after is None and self.before is None:
            raise ValueError("give `after`, `before` or both")
        return self

    def holds(self, check: Check) -> bool:
        at = check.date_time(self.date)
        return (self.after is None or _compare(at, self.after) > 0) and (
            self.before is None or _compare(at, self.before) < 0
        )


def _aware(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


def _seconds(value: time) -> float:
    return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6


def _compare(at: datetime, bound: time) -> float:
    """How far the time of `at` is past `bound`: with an offset on the bound, both as instants of one day (the
    reference's OffsetTime); without one, as wall-clock times."""
    offset = bound.utcoffset()
    if offset is None:
        return _seconds(at.time()) - _seconds(bound)
    own = at.utcoffset() or timedelta(0)
    return (_seconds(at.time()) - own.total_seconds()) - (_seconds(bound) - offset.total_seconds())


DATE_CONDITIONS: tuple[type[ScheduleCondition], ...] = (DayWeek, DayWeekInMonth, Weekend, DateTimeBetween, TimeBetween)
