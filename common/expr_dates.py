"""The reference's date filters and `now()`: `date`, `dateAdd`, `timestamp`, `timestampMicro`, `timestampNano`.

Each takes `format` (a Java pattern or a named format, `iso` by default), `timeZone` (UTC by default) and
`existingFormat` (how to read a string input); see `conveyor.common.java_date`.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.common.java_date import DateError, format_datetime, to_datetime

_UNITS = {
    "NANOS": timedelta(microseconds=0.001),
    "MICROS": timedelta(microseconds=1),
    "MILLIS": timedelta(milliseconds=1),
    "SECONDS": timedelta(seconds=1),
    "MINUTES": timedelta(minutes=1),
    "HOURS": timedelta(hours=1),
    "HALF_DAYS": timedelta(hours=12),
    "DAYS": timedelta(days=1),
    "WEEKS": timedelta(weeks=1),
}
_MONTHS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200, "MILLENNIA": 12000}


def _input(value: Any, time_zone: Any, existing: Any) -> datetime:
    if value is None:
        raise DateError("the date filters need a date, got null")
    return to_datetime(value, time_zone, None if existing is None else str(existing))


def date(value: Any, format: Any = None, existingFormat: Any = None, timeZone: Any = None, locale: Any = None) -> Any:
    """`date(format, existingFormat=…, timeZone=…, locale=…)`: a date written in another format (null stays
    null); `locale` names the days and months (`EEEE`, `MMMM`…)."""
    if value is None:
        return None
    when = _input(value, timeZone, existingFormat)
    return format_datetime(when, None if format is None else str(format), timeZone, locale)


def _add_months(when: datetime, months: int) -> datetime:
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


def date_add(
    value: Any,
    amount: Any,
    unit: Any,
    format: Any = None,
    existingFormat: Any = None,
    timeZone: Any = None,
    locale: Any = None,
) -> str:
    """`dateAdd(amount, unit)` with a `ChronoUnit` name (`DAYS`, `HOURS`, `MONTHS`…); a negative amount subtracts."""
    when = _input(value, timeZone, existingFormat)
    name = str(unit).upper()
    if name in _MONTHS:
        when = _add_months(when, int(amount) * _MONTHS[name])
    elif name in _UNITS:
        when = when + _UNITS[name] * int(amount)
    else:
        raise DateError(f"dateAdd: unknown unit {unit!r} (one of {', '.join([*_UNITS, *_MONTHS])})")
    return format_datetime(when, None if format is None else str(format), timeZone, locale)


def _epoch(value: Any, existing: Any, time_zone: Any) -> tuple[int, int]:
    """Whole seconds since the epoch and the microseconds past them."""
    when = _input(value, time_zone, existing)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86400 + delta.seconds, delta.microseconds


def timestamp(value: Any, existingFormat: Any = None, timeZone: Any = None) -> int:
    return _epoch(value, existingFormat, timeZone)[0]


def timestamp_nano(value: Any, existingFormat: Any = None, timeZone: Any = None) -> int:
    seconds, micros = _epoch(value, existingFormat, timeZone)
    return seconds * 1_000_000_000 + micros * 1000


def timestamp_micro(value: Any, existingFormat: Any = None, timeZone: Any = None) -> int:
    """As the reference computes it: seconds x 10^9 plus the microseconds (its own test pins this)."""
    seconds, micros = _epoch(value, existingFormat, timeZone)
    return seconds * 1_000_000_000 + micros


def now(pinned: datetime | None, format: Any = None, timeZone: Any = None, locale: Any = None) -> str:
    """`now(format=…, timeZone=…)`: the current time (the decision's clock when pinned), `iso` by default."""
    when = pinned if pinned is not None else datetime.now(UTC)
    return format_datetime(when, None if format is None else str(format), timeZone, locale)
