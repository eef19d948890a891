"""Schedule dates: cron with and without seconds, nicknames, time zones over both DST changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.slots import Slots, slots_of

TYPE = "io.kestra.plugin.core.trigger.Schedule"


def schedule(cron: str, **extra: object) -> Schedule:
    return Schedule.model_validate({"id": "s", "type": TYPE, "cron": cron, **extra})


def walk(slots: Slots, start: datetime, count: int) -> list[datetime]:
    out, at = [], start
    for _ in range(count):
        at = slots.after(at)
        out.append(at)
    return out


def test_five_fields_every_fifteen_minutes() -> None:
    got = walk(slots_of(schedule("*/15 * * * *")), datetime(2026, 1, 1, 10, 7, tzinfo=UTC), 3)
    assert [d.strftime("%H:%M") for d in got] == ["10:15", "10:30", "10:45"]


def test_with_seconds_the_first_field_is_seconds() -> None:
    got = walk(slots_of(schedule("*/2 * * * * *", withSeconds=True)), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC), 3)
    assert [d.second for d in got] == [2, 4, 6]


@pytest.mark.parametrize(
    ("nickname", "expected"),
    [
        ("@hourly", datetime(2026, 5, 6, 8, 0, tzinfo=UTC)),
        ("@daily", datetime(2026, 5, 7, 0, 0, tzinfo=UTC)),
        ("@weekly", datetime(2026, 5, 10, 0, 0, tzinfo=UTC)),  # Sunday
        ("@monthly", datetime(2026, 6, 1, tzinfo=UTC)),
        ("@yearly", datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_nicknames(nickname: str, expected: datetime) -> None:
    assert slots_of(schedule(nickname)).after(datetime(2026, 5, 6, 7, 30, tzinfo=UTC)) == expected


@pytest.mark.parametrize(
    ("cron", "extra", "message"),
    [
        ("* * * * * *", {}, "6 fields need `withSeconds: true`"),
        ("* * * * *", {"withSeconds": True}, "expected 6"),
        ("61 * * * *", {}, "invalid cron expression"),
        ("@often", {}, "unknown cron nickname"),
        ("* * * * *", {"timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(cron: str, extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        schedule(cron, **extra)


def test_spring_forward_a_missing_time_fires_after_the_change_once() -> None:
    """02:30 does not exist in Paris on 2026-03-29: that day's slot is 03:30 CEST, the others 02:30."""
    got = walk(slots_of(schedule("30 2 * * *", timezone="Europe/Paris")), datetime(2026, 3, 27, 12, tzinfo=UTC), 3)
    assert [d.isoformat() for d in got] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_fall_back_a_repeated_time_fires_once() -> None:
    """01:30 happens twice in New York on 2026-11-01: a daily 01:30 schedule fires once that day."""
    got = walk(slots_of(schedule("30 1 * * *", timezone="America/New_York")), datetime(2026, 10, 31, tzinfo=UTC), 3)
    assert [d.isoformat() for d in got] == [
        "2026-10-31T01:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_fall_back_an_every_half_hour_schedule_keeps_its_pace_through_the_repeated_hour() -> None:
    got = walk(slots_of(schedule("*/30 * * * *", timezone="Europe/Paris")), datetime(2026, 10, 24, 23, tzinfo=UTC), 6)
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in itertools.pairwise(got)}
    assert gaps == {timedelta(minutes=30)}
    assert [d.strftime("%H:%M%z") for d in got] == ["01:30+0200", "02:00+0200", "02:30+0200", "02:00+0100",
                                                    "02:30+0100", "03:00+0100"]  # fmt: skip


def test_spring_forward_every_half_hour_has_no_duplicate_and_no_regression() -> None:
    got = walk(slots_of(schedule("*/30 * * * *", timezone="Europe/Paris")), datetime(2026, 3, 28, 23, tzinfo=UTC), 6)
    instants = [d.astimezone(UTC) for d in got]
    assert instants == sorted(set(instants))
    assert [d.strftime("%H:%M%z") for d in got] == ["00:30+0100", "01:00+0100", "01:30+0100", "03:00+0200",
                                                    "03:30+0200", "04:00+0200"]  # fmt: skip


def test_before_is_the_previous_slot_across_the_change() -> None:
    slots = slots_of(schedule("30 2 * * *", timezone="Europe/Paris"))
    assert slots.before(datetime(2026, 3, 30, 0, 30, tzinfo=UTC)).isoformat() == "2026-03-29T03:30:00+02:00"
    assert slots.before(datetime(2026, 1, 2, 1, 30, tzinfo=UTC)).isoformat() == "2026-01-01T02:30:00+01:00"
