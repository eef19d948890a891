"""`stopAfter`: which ended executions disable the trigger (of any type) that started them. Pure.

The ended executions are on `executions` (keyed by execution id), a trigger's state is in its flow's
partition of `trigger-state`: the Flow trigger loop, which reads every final snapshot, keeps the `stopAfter`
states of the deployed triggers (`StopAfterIndex`) and turns a matching end into a `stopAfter`
notice (`notice`) for `trigger-control`; the scheduler owning the trigger then disables it
(`decide.stop_after`), checking the definition again.
"""

from __future__ import annotations

from datetime import datetime

from conveyor.common.flow import Flow
from conveyor.common.ids import derived_id
from conveyor.common.model import Execution
from conveyor.common.state import StateType
from conveyor.common.triggers.base import Trigger
from conveyor.common.triggers.state import Action, TriggerControl


class StopAfterIndex:
    """flow key -> trigger id -> its `stopAfter` states, for the triggers that have some, and when
    that revision was deployed: only executions that ended afterwards count (the Flow trigger loop may read
    `executions` from its start)."""

    def __init__(self) -> None:
        self._stops: dict[str, tuple[datetime | None, dict[str, frozenset[StateType]]]] = {}

    def update(self, key: str, flow: Flow | None, since: datetime | None = None) -> None:
        self._stops.pop(key, None)
        if flow is None:
            return
        stops = {t.id: frozenset(t.stop_after) for t in flow.triggers if isinstance(t, Trigger) and t.stop_after}
        if stops:
            self._stops[key] = (since, stops)

    def notice(self, ended: Execution, end: datetime | None, now: datetime) -> TriggerControl | None:
        """The `stopAfter` notice `ended` (which ended at `end`) causes, if any: it was started by a trigger
        of its flow whose `stopAfter` holds the state it ended in, after that definition was deployed.
        Its request id is derived from (execution, state)."""
        block = ended.trigger
        found = self._stops.get(f"{ended.namespace}/{ended.flow_id}") if block is not None else None
        if block is None or found is None:
            return None
        since, stops = found
        states = stops.get(block.id)
        if states is None or ended.state.current not in states:
            return None
        if since is not None and end is not None and end < since:
            return None
        return TriggerControl(
            request_id=derived_id("stop-after", ended.id, ended.state.current.value),
            namespace=ended.namespace,
            flow_id=ended.flow_id,
            trigger_id=block.id,
            action=Action.STOP_AFTER,
            execution_id=ended.id,
            state=ended.state.current,
            requested=end or now,
        )

    def __len__(self) -> int:
        return sum(len(stops) for _, stops in self._stops.values())
