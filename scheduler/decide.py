"""The pure logic of a Schedule trigger: given its state, its definition and `now` (an injected clock), which
slots fire and what the state becomes. No Kafka, no clock of its own: every rule is tested in isolation.

- A new trigger starts at the first slot after it was first seen (nothing in the past fires), and starts
  the definition's `backfill` if it has one.
- `tick` fires every slot up to `now` from `state.next` (oldest first, at most `limit` per call), skipping
  any later than `lateMaximumDelay` and any that does not meet the trigger's `conditions`
  (`common.triggers.slot_conditions`); then the backfill's slots (the conditions apply to them too).
- `recover` applies `recoverMissedSchedules` to the slots before `now` that were not fired: called when a
  scheduler takes the trigger over (it was down, or another one was) and when the trigger is enabled again.
  ALL keeps them all, LAST keeps the latest, NONE keeps none.
- `disable` stops it without moving `next`; `enable` is `recover` at that moment: re-enabling never skips
  the next slot (kestra#16721), and NONE never fires the slots missed meanwhile (kestra#6027).
- `stop_after`: an execution the trigger started ended in one of its `stopAfter` states, so it is disabled
  (as by `disable`, with the execution and state recorded); `enable` clears the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.common.ids import derived_id
from conveyor.common.state import StateType
from conveyor.common.triggers.base import Trigger
from conveyor.common.triggers.schedule import RecoverMissedSchedules, Schedule
from conveyor.common.triggers.slot_conditions import meets, neighbours
from conveyor.common.triggers.slots import Slots, slots_of
from conveyor.common.triggers.state import BackfillProgress, StoppedAfter, TriggerControl, TriggerState

# The most slots one tick fires for one trigger (the rest wait for the next tick: cost stays bounded).
LIMIT = 100


@dataclass(frozen=True)
class Fire:
    """One slot to start an execution for."""

    execution_id: str
    date: datetime
    next: datetime
    previous: datetime
    backfill: bool = False
    inputs: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Step:
    state: TriggerState
    fires: list[Fire] = field(default_factory=list)
    changed: bool = False


def signature(schedule: Schedule) -> str:
    return f"{schedule.cron}|{schedule.with_seconds}|{schedule.timezone}"


def slot_execution_id(state: TriggerState, date: datetime, backfill_id: str | None = None) -> str:
    """A slot's execution id: a function of (namespace, flow, trigger, date), so a replayed decision, another
    scheduler or a restart can never start a second execution for it."""
    parts = [state.namespace, state.flow_id, state.trigger_id, date.astimezone(UTC).isoformat()]
    return derived_id("schedule", *parts, *([backfill_id] if backfill_id else []))


def first_state(namespace: str, flow_id: str, schedule: Schedule, now: datetime) -> TriggerState:
    state = TriggerState(
        namespace=namespace,
        flow_id=flow_id,
        trigger_id=schedule.id,
        type=schedule.canonical_type(),
        next=slots_of(schedule).after(now),
        signature=signature(schedule),
        updated=now,
    )
    if schedule.backfill is not None:
        request = TriggerControl(
            request_id=derived_id("backfill", namespace, flow_id, schedule.id),
            namespace=namespace,
            flow_id=flow_id,
            trigger_id=schedule.id,
            action="backfill",
            start=schedule.backfill.start,
            end=schedule.backfill.end,
            inputs=schedule.backfill.inputs,
            labels=schedule.backfill.labels,
            requested=now,
        )
        state = start_backfill(state, schedule, request)
    return state


def redefined(state: TriggerState, schedule: Schedule, now: datetime) -> TriggerState:
    """The state for a changed definition: a new cron or time zone starts from its first slot after now."""
    if state.signature == signature(schedule):
        return state
    return state.model_copy(update={"next": slots_of(schedule).after(now), "signature": signature(schedule)})


def recover(state: TriggerState, schedule: Schedule, now: datetime) -> TriggerState:
    """Apply `recoverMissedSchedules` to the unfired slots before `now`."""
    if state.next is None or state.next > now or schedule.recover_missed_schedules is RecoverMissedSchedules.ALL:
        return state
    slots = slots_of(schedule)
    if schedule.recover_missed_schedules is RecoverMissedSchedules.LAST:
        latest = slots.before(now + timedelta(microseconds=1))
        return state.model_copy(update={"next": max(latest, state.next)})
    return state.model_copy(update={"next": slots.at_or_after(now)})


def disable(state: TriggerState, now: datetime) -> TriggerState:
    return state.model_copy(update={"disabled": True, "disabled_at": state.disabled_at or now, "updated": now})


def enable(state: TriggerState, trigger: Trigger, now: datetime) -> TriggerState:
    """Enabled again; a Schedule applies `recoverMissedSchedules` to the slots missed while it was disabled."""
    enabled = state.model_copy(update={"disabled": False, "disabled_at": None, "stopped_after": None, "updated": now})
    return recover(enabled, trigger, now) if isinstance(trigger, Schedule) else enabled


def stop_after(
    state: TriggerState, trigger: Trigger, execution_id: str, ended: StateType, now: datetime
) -> TriggerState:
    """The state once an execution this trigger (of any type) started ended `ended`: disabled if that is one
    of its `stopAfter` states (the definition's now, as the reference reads it), else unchanged. A trigger
    already disabled stays as it is, so a replayed or late notice changes nothing."""
    if ended not in trigger.stop_after or state.disabled:
        return state
    record = StoppedAfter(execution_id=execution_id, state=ended, date=now)
    return disable(state, now).model_copy(update={"stopped_after": record})


def start_backfill(state: TriggerState, schedule: Schedule, request: TriggerControl) -> TriggerState:
    start = request.start or request.requested
    end = request.end or request.requested
    progress = BackfillProgress(
        id=request.request_id,
        start=start,
        end=end,
        next=slots_of(schedule).at_or_after(start),
        inputs=request.inputs,
        labels=request.labels,
    )
    return state.model_copy(update={"backfill": progress, "updated": request.requested})


def tick(state: TriggerState, schedule: Schedule, now: datetime, limit: int = LIMIT) -> Step:
    """The slots due at `now` (regular, then backfill) and the state after them."""
    step = Step(state)
    if state.disabled or schedule.disabled:
        return step
    slots = slots_of(schedule)
    _regular(step, schedule, slots, now, limit)
    _backfill(step, schedule, slots, now, limit)
    if step.changed:
        step.state = step.state.model_copy(update={"updated": now})
    return step


def _regular(step: Step, schedule: Schedule, slots: Slots, now: datetime, limit: int) -> None:
    state = step.state
    slot = state.next
    last = state.last
    flow = (state.namespace, state.flow_id)
    while slot is not None and slot <= now and len(step.fires) < limit:
        following = slots.after(slot)
        late = schedule.late_maximum_delay is not None and now - slot > schedule.late_maximum_delay
        if not late and meets(schedule, slot, flow, slots):
            after, before = _neighbours(schedule, slots, slot, following, flow)
            step.fires.append(Fire(slot_execution_id(state, slot), slot, after, before, inputs=schedule.inputs))
            last = slot
        slot = following
    if slot != state.next:
        step.state = state.model_copy(update={"next": slot, "last": last})
        step.changed = True


def _backfill(step: Step, schedule: Schedule, slots: Slots, now: datetime, limit: int) -> None:
    progress = step.state.backfill
    if progress is None:
        return
    slot = progress.next
    fired = progress.fired
    flow = (step.state.namespace, step.state.flow_id)
    while slot is not None and slot <= min(progress.end, now) and len(step.fires) < limit:
        following = slots.after(slot)
        if meets(schedule, slot, flow, slots):
            inputs = {**schedule.inputs, **progress.inputs}
            labels = {**progress.labels, "system.backfill": "true"}
            execution_id = slot_execution_id(step.state, slot, progress.id)
            after, before = _neighbours(schedule, slots, slot, following, flow)
            step.fires.append(Fire(execution_id, slot, after, before, True, inputs, labels))
            fired += 1
        slot = following
    done = slot is None or slot > progress.end
    if done or slot != progress.next:
        remaining = None if done else progress.model_copy(update={"next": slot, "fired": fired})
        step.state = step.state.model_copy(update={"backfill": remaining})
        step.changed = True


def _neighbours(
    schedule: Schedule, slots: Slots, slot: datetime, following: datetime, flow: tuple[str, str]
) -> tuple[datetime, datetime]:
    """`trigger.next` and `trigger.previous` of a fired slot: the nearest slots that meet the conditions."""
    if not schedule.conditions:
        return following, slots.before(slot)
    return neighbours(schedule, slot, flow)
