"""Which Flow triggers may fire for an ended execution, found without looking at every deployed flow.

Kept from the `flows` topic (`update` for each record read): a trigger is filed under the flow its
conditions name (an ExecutionFlow condition, or the one flow of its `preconditions.flows`; one waiting for
several flows under each of them), else under the
namespace an ExecutionNamespace EQUALS condition names, else among the few that may fire for any execution
(a namespace prefix, only states or labels). `candidates(execution)` reads the flow's and the namespace's
entries plus those: the work per ended execution is the number of triggers that could fire for it, not the
number of flows. `flow_match.matches` then decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from conveyor.common.flow import Flow
from conveyor.common.triggers.conditions import Comparison, ExecutionFlow, ExecutionNamespace
from conveyor.common.triggers.flow import FlowTrigger
from conveyor.common.triggers.state import trigger_key

log = logging.getLogger(__name__)

# Where a trigger is filed: ("flow", "ns/id"), ("namespace", "ns") or ("any", "").
Slot = tuple[str, str]
ANY: Slot = ("any", "")


@dataclass(frozen=True)
class Candidate:
    flow: Flow
    trigger: FlowTrigger
    # When this revision of the flow was deployed: it fires only for executions that ended afterwards.
    since: datetime | None = None

    @property
    def key(self) -> str:
        """The trigger's key on `trigger-state`."""
        return trigger_key(self.flow.namespace, self.flow.id, self.trigger.id)


class FlowTriggerIndex:
    def __init__(self) -> None:
        self._slots: dict[Slot, dict[str, list[Candidate]]] = {}  # slot -> triggered flow key -> its triggers
        self._filed: dict[str, set[Slot]] = {}  # triggered flow key -> the slots it is filed under

    def update(self, key: str, flow: Flow | None, since: datetime | None = None) -> None:
        """The flow deployed under `key` is now `flow` (None: deleted). A disabled flow's triggers stop."""
        for slot in self._filed.pop(key, set()):
            entries = self._slots.get(slot, {})
            entries.pop(key, None)
            if not entries:
                self._slots.pop(slot, None)
        if flow is None or flow.disabled:
            return
        for trigger in flow.triggers:
            if not isinstance(trigger, FlowTrigger) or trigger.disabled:
                continue
            candidate = Candidate(flow, trigger, since)
            for slot in slots_of(trigger):
                self._slots.setdefault(slot, {}).setdefault(key, []).append(candidate)
                self._filed.setdefault(key, set()).add(slot)

    def candidates(self, namespace: str, flow_id: str) -> list[Candidate]:
        """The triggers that may fire when an execution of `namespace`.`flow_id` ends: never that flow's own
        (a flow does not trigger itself, as in the reference, so a trigger matching its own executions cannot
        loop forever; a longer cycle, A -> B -> A, is the author's, as there)."""
        own = f"{namespace}/{flow_id}"
        found: dict[int, Candidate] = {}  # a trigger filed under two of these slots is found once
        for slot in (("flow", own), ("namespace", namespace), ANY):
            for key, entries in self._slots.get(slot, {}).items():
                if key != own:
                    found.update((id(c), c) for c in entries)
        return list(found.values())

    def __len__(self) -> int:
        return len({id(c) for entries in self._slots.values() for e in entries.values() for c in e})


def slots_of(trigger: FlowTrigger) -> list[Slot]:
    """Where a trigger is filed; one waiting for several flows is filed under each of them (and under "any"
    when it has `where` groups, which any execution may meet)."""
    pre = trigger.preconditions
    if trigger.waits and pre is not None:
        slots: list[Slot] = [("flow", f"{u.namespace}/{u.flow_id}") for u in pre.flows]
        return [*slots, ANY] if pre.where else slots
    return [slot_of(trigger)]


def slot_of(trigger: FlowTrigger) -> Slot:
    for condition in trigger.conditions:
        if isinstance(condition, ExecutionFlow):
            return ("flow", f"{condition.namespace}/{condition.flow_id}")
    if trigger.preconditions is not None and trigger.preconditions.flows:
        upstream = trigger.preconditions.flows[0]
        return ("flow", f"{upstream.namespace}/{upstream.flow_id}")
    for condition in trigger.conditions:
        if isinstance(condition, ExecutionNamespace) and _exact(condition):
            return ("namespace", condition.namespace)
    return ANY


def _exact(condition: ExecutionNamespace) -> bool:
    return not condition.prefix and condition.comparison == Comparison.EQUALS
