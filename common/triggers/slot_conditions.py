"""Whether a Schedule's slot meets its `conditions` (`schedule_conditions`), and its neighbours that do.

A slot is checked with the variables the execution it starts would see: `trigger.date` (the slot),
`trigger.next` and `trigger.previous` (the cron's neighbours), as ISO date-times in the schedule's time zone
(`Z` for UTC), also as `schedule.*`, and `flow.id`/`flow.namespace`. A slot that fails starts nothing; one
that holds gets, as its `trigger.next` and `trigger.previous`, the nearest slots that hold too (as the
reference), looked for among at most `SCAN` slots each way (beyond that, the cron's own neighbour).

A condition that cannot be evaluated (its `date` or `expression` does not render or parse) fails the slot and
is logged with the reason: that slot starts nothing (the reference starts a FAILED execution instead)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from conveyor.common.triggers.condition_base import Check, ConditionError
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.slots import Slots, slots_of

log = logging.getLogger(__name__)

# How many slots are looked at, each way, for the nearest ones that meet the conditions.
SCAN = 1000


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def slot_variables(slot: datetime, following: datetime, preceding: datetime) -> dict[str, Any]:
    return {"date": _iso(slot), "next": _iso(following), "previous": _iso(preceding)}


def meets(schedule: Schedule, slot: datetime, flow: tuple[str, str], slots: Slots | None = None) -> bool:
    """Whether `slot` meets every condition of `schedule` (`flow`: its namespace and id); one that cannot be
    evaluated fails it, logged."""
    try:
        return _holds(schedule, slot, flow, slots or slots_of(schedule))
    except ConditionError as exc:
        log.error("trigger %s/%s/%s: slot %s not started, its conditions cannot be evaluated: %s",
                  *flow, schedule.id, _iso(slot), exc)  # fmt: skip
        return False


def _holds(schedule: Schedule, slot: datetime, flow: tuple[str, str], slots: Slots) -> bool:
    conditions = schedule.conditions
    if not conditions:
        return True
    variables = slot_variables(slot, slots.after(slot), slots.before(slot))
    namespace, flow_id = flow
    context = {"trigger": variables, "schedule": variables, "flow": {"namespace": namespace, "id": flow_id}}
    check = Check(context, schedule.zone())
    return all(condition.holds(check) for condition in conditions)


def neighbours(schedule: Schedule, slot: datetime, flow: tuple[str, str]) -> tuple[datetime, datetime]:
    """The next and the previous slot of `slot` that meet the conditions (the cron's own if none within SCAN)."""
    slots = slots_of(schedule)
    following, preceding = slots.after(slot), slots.before(slot)
    if not schedule.conditions:
        return following, preceding
    return _nearest(schedule, slots, following, flow, forward=True), _nearest(
        schedule, slots, preceding, flow, forward=False
    )


def next_meeting(schedule: Schedule, start: datetime, flow: tuple[str, str]) -> datetime:
    """The first slot from `start` (a slot) on that meets the conditions (`start` itself if none within SCAN)."""
    if not schedule.conditions:
        return start
    return _nearest(schedule, slots_of(schedule), start, flow, forward=True)


def _nearest(schedule: Schedule, slots: Slots, start: datetime, flow: tuple[str, str], *, forward: bool) -> datetime:
    slot = start
    try:
        for _ in range(SCAN):
            if _holds(schedule, slot, flow, slots):
                return slot
            slot = slots.after(slot) if forward else slots.before(slot)
    except ConditionError:
        pass  # logged when that slot is due
    return start
