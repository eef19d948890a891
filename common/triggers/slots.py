"""The dates of a Schedule (croniter), as aware datetimes in the schedule's time zone.

Wall-clock semantics across daylight-saving changes:
- a local time that does not exist (spring forward, 02:30 in Europe/Paris) fires at the same distance
  after the change (03:30), as the reference's `ZonedDateTime` does, unless that instant is itself a slot;
- a local time that happens twice (fall back) fires once, at its first occurrence, unless the hour field
  is `*` (every hour): then the repeated hour's times fire too, so an every-minute schedule never pauses.
Every instant is a slot at most once and slots are strictly increasing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from croniter import croniter

if TYPE_CHECKING:
    from conveyor.common.triggers.schedule import Schedule

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Around a change, instants and wall-clock times disagree by at most the change (at most 2 h anywhere).
_WINDOW = timedelta(hours=3)
_TINY = timedelta(microseconds=1)


def expression(cron: str) -> str:
    return NICKNAMES.get(cron.strip().lower(), cron.strip())


def check_cron(cron: str, with_seconds: bool) -> None:
    """A ValueError that says what is wrong with `cron`, or nothing."""
    text = expression(cron)
    fields = len(text.split())
    want = 6 if with_seconds else 5
    if cron.strip().startswith("@") and cron.strip().lower() not in NICKNAMES:
        raise ValueError(f"unknown cron nickname {cron!r}; known: {', '.join(sorted(NICKNAMES))}")
    if not cron.strip().startswith("@") and fields != want:
        hint = "seconds first, then minute hour day month weekday" if with_seconds else "minute hour day month weekday"
        extra = "" if with_seconds else " (6 fields need `withSeconds: true`)"
        raise ValueError(f"cron {cron!r} has {fields} fields, expected {want}: {hint}{extra}")
    if not croniter.is_valid(text, second_at_beginning=with_seconds and fields == 6):
        raise ValueError(f"invalid cron expression {cron!r}")


class Slots:
    """The slot dates of one schedule: `after(t)`, `before(t)`, `between(a, b)`.

    `slots_of(schedule)` is shared by every schedule with the same cron, seconds flag and time zone, and its
    answers are memoised: 10,000 flows on `* * * * *` compute each minute's next slot once."""

    def __init__(self, cron: str, with_seconds: bool, timezone: str) -> None:
        self._text = expression(cron)
        self._seconds = with_seconds and len(self._text.split()) == 6
        self._zone = ZoneInfo(timezone)
        hour = self._text.split()[2 if self._seconds else 1]
        self._every_hour = hour == "*"
        # Keyed by the UTC instant: two aware datetimes of one zone that differ only by `fold` compare equal.
        self._after_utc = lru_cache(maxsize=4096)(self._after)
        self._before_utc = lru_cache(maxsize=4096)(self._before)

    def _iter(self, start: datetime, *, backwards: bool = False) -> croniter:
        return croniter(self._text, start, second_at_beginning=self._seconds, is_prev=backwards)

    def _instants(self, naive: datetime) -> list[datetime]:
        """The UTC instants of a wall-clock time (two when it happens twice and the hour field is `*`)."""
        first = naive.replace(tzinfo=self._zone, fold=0)
        second = naive.replace(tzinfo=self._zone, fold=1)
        if second.utcoffset() != first.utcoffset() and self._ambiguous(first) and self._every_hour:
            return [first.astimezone(UTC), second.astimezone(UTC)]
        return [first.astimezone(UTC)]

    def _ambiguous(self, local: datetime) -> bool:
        # A time in a gap round-trips to another wall-clock time; one that happens twice round-trips to itself.
        back = local.astimezone(UTC).astimezone(self._zone)
        return back.replace(tzinfo=None) == local.replace(tzinfo=None)

    def _zoned(self, instant: datetime) -> datetime:
        # Through UTC: `astimezone` to a datetime's own tzinfo changes nothing, not even a time in a gap.
        return instant.astimezone(UTC).astimezone(self._zone)

    def _local(self, instant: datetime) -> datetime:
        return instant.astimezone(self._zone).replace(tzinfo=None)

    def _steady(self, a: datetime, b: datetime) -> bool:
        """No offset change within `_WINDOW` of either end (so naive and instant order agree there)."""
        offsets = {(t + d).astimezone(self._zone).utcoffset() for t in (a, b) for d in (-_WINDOW, _WINDOW)}
        return len(offsets) == 1

    def after(self, instant: datetime) -> datetime:
        """The first slot strictly after `instant`."""
        return self._after_utc(instant.astimezone(UTC))

    def before(self, instant: datetime) -> datetime:
        """The last slot strictly before `instant`."""
        return self._before_utc(instant.astimezone(UTC))

    def _after(self, instant: datetime) -> datetime:
        instant = instant.astimezone(UTC)
        naive = self._iter(self._local(instant)).get_next(datetime)
        found = naive.replace(tzinfo=self._zone).astimezone(UTC)
        if self._steady(instant, found):
            return self._zoned(found)
        return self._careful_after(instant)

    def _careful_after(self, instant: datetime) -> datetime:
        it = self._iter(self._local(instant) - _WINDOW)
        best: datetime | None = None
        while True:
            naive = it.get_next(datetime)
            for candidate in self._instants(naive):
                if candidate > instant and (best is None or candidate < best):
                    best = candidate
            if best is not None and naive - _WINDOW > self._local(best):
                return self._zoned(best)

    def _before(self, instant: datetime) -> datetime:
        instant = instant.astimezone(UTC)
        naive = self._iter(self._local(instant), backwards=True).get_prev(datetime)
        found = naive.replace(tzinfo=self._zone).astimezone(UTC)
        if self._steady(found, instant) and found < instant:
            return self._zoned(found)
        return self._careful_before(instant)

    def _careful_before(self, instant: datetime) -> datetime:
        it = self._iter(self._local(instant) + _WINDOW, backwards=True)
        best: datetime | None = None
        while True:
            naive = it.get_prev(datetime)
            for candidate in self._instants(naive):
                if candidate < instant and (best is None or candidate > best):
                    best = candidate
            if best is not None and naive + _WINDOW < self._local(best):
                return self._zoned(best)

    def at_or_after(self, instant: datetime) -> datetime:
        return self.after(instant - _TINY)

    def between(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        """Up to `limit` slots in [start, end], oldest first."""
        out: list[datetime] = []
        slot = self.at_or_after(start)
        end = end.astimezone(UTC)
        while slot.astimezone(UTC) <= end and len(out) < limit:
            out.append(slot)
            slot = self.after(slot)
        return out


def slots_of(schedule: Schedule) -> Slots:
    """The (shared, memoised) slots of a schedule."""
    return _shared(schedule.cron, schedule.with_seconds, schedule.timezone)


@lru_cache(maxsize=1024)
def _shared(cron: str, with_seconds: bool, timezone: str) -> Slots:
    return Slots(cron, with_seconds, timezone)
