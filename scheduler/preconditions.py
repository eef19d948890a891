"""Flow trigger preconditions across several flows: pure, like `decide`.

The reference's `preconditions: {flows: [...], where: [...], timeWindow, resetOnSuccess}` with more than one
flow: each listed flow (in one of its `states`, with its `labels`) and each `where` group is a condition that
some ended execution must meet within one time window; once all are met the trigger fires once and, with
`resetOnSuccess` (the default), the window starts over (without it, every later execution that meets a
condition fires again while all stay met in the window).

Conditions are named as the reference names them: `condition_1`, `condition_2`… for the flows in order, then
`condition_<n>_<where id>` for the where groups. Time is the ended execution's end date, never a clock, so a
replayed notice decides the same. Windows (`window_of`):
- `DURATION_WINDOW` (default, `window: PT24H`): consecutive windows of `window` from midnight UTC (1970-01-01),
  shifted by `windowAdvance`: a one-day window is a UTC day, six hours from 06:00 gives 06-12, 12-18…
- `SLIDING_WINDOW`: the last `window` before each end; a condition met earlier than that no longer counts.

The Flow trigger loop finds which conditions an ended execution meets (`met_by`) and sends them, in a notice on
`trigger-control`, to the scheduler that owns the triggered flow's partition, which keeps the window in the
trigger's state (`advance`) and fires in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from conveyor.common.flow import Flow
from conveyor.common.model import Execution
from conveyor.common.triggers.flow import FlowTrigger, Preconditions, WindowType
from conveyor.common.triggers.state import Met, PreconditionWindow
from conveyor.scheduler.flow_match import conditions_hold, upstream_matches, where_holds

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Advance:
    window: PreconditionWindow
    fire: bool
    # The executions that met the conditions, when it fires (for the new execution's derived id).
    by: tuple[str, ...] = ()


def condition_ids(pre: Preconditions) -> list[str]:
    flows = [f"condition_{i}" for i in range(1, len(pre.flows) + 1)]
    return [*flows, *(f"condition_{len(flows) + i}_{w.id}" for i, w in enumerate(pre.where, start=1))]


def met_by(pre: Preconditions, ended: Execution) -> list[str]:
    """The conditions `ended` meets."""
    ids = condition_ids(pre)
    met = [ids[i] for i, upstream in enumerate(pre.flows) if upstream_matches(upstream, ended)]
    met += [ids[len(pre.flows) + i] for i, group in enumerate(pre.where) if where_holds(group, ended)]
    return met


def eligible(trigger: FlowTrigger, ended: Execution, flow: Flow | None = None) -> bool:
    """The trigger's own `states` and `conditions` hold for `ended` (checked before its preconditions)."""
    if trigger.disabled or ended.state.current not in trigger.states:
        return False
    return conditions_hold(trigger, ended, flow)


def window_of(pre: Preconditions, at: datetime) -> tuple[datetime, datetime]:
    window = pre.time_window.window
    if pre.time_window.type is WindowType.SLIDING_WINDOW:
        return at - window, at
    origin = EPOCH + (pre.time_window.window_advance or timedelta(0))
    count = (at.astimezone(UTC) - origin) // window
    start = origin + count * window
    return start, start + window


def advance(
    window: PreconditionWindow | None, pre: Preconditions, met: list[str], execution_id: str, at: datetime
) -> Advance:
    """The window after an execution that ended at `at` met the conditions `met`; whether the trigger fires."""
    current = window or PreconditionWindow()
    start, end = window_of(pre, at)
    entries = dict(current.met)
    if pre.time_window.type is WindowType.SLIDING_WINDOW:
        entries = {cid: m for cid, m in entries.items() if m.date > start}
    elif current.start != start:
        entries = {}
    for cid in met:
        entries[cid] = Met(execution_id=execution_id, date=at)
    ids = condition_ids(pre)
    fire = bool(met) and all(cid in entries for cid in ids)
    by = tuple(sorted({entries[cid].execution_id for cid in ids})) if fire else ()
    if fire and pre.reset_on_success:
        entries = {}
    fired = current.fired + (1 if fire else 0)
    return Advance(PreconditionWindow(start=start, end=end, met=entries, fired=fired), fire, by)
