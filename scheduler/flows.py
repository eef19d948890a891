"""The deployed flows a scheduler owns (those whose key falls in its partitions), caught up from `flows`.

Only owned flows are parsed, so each instance's cost is its share, and through the process's `ParsedFlows`
(shared with the Flow trigger loop, so no flow is parsed twice). A flow that no longer parses (e.g. a trigger
type whose plugin is gone) is logged and treated as absent: its triggers stop until it is fixed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conveyor.common.flow import Flow
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.state import partition_of
from conveyor.scheduler.firing import flow_json
from conveyor.scheduler.parsed import SHARED, ParsedFlows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    key: str
    flow: Flow | None  # None: deleted, or not parseable any more


def schedules(flow: Flow | None) -> list[Schedule]:
    """The flow's Schedule triggers that may fire (none when the flow is disabled or gone)."""
    if flow is None or flow.disabled:
        return []
    return [t for t in flow.triggers if isinstance(t, Schedule) and not t.disabled]


class OwnedFlows:
    def __init__(self, partitions: int, parsed: ParsedFlows = SHARED) -> None:
        self.partitions = partitions
        self.parsed = parsed
        self.owned: set[int] = set()
        self.raw: dict[str, bytes] = {}
        self.flows: dict[str, Flow] = {}
        self.dumped: dict[str, dict[str, Any]] = {}  # key -> the flow's JSON, for the executions it starts

    def owns(self, key: str) -> bool:
        return partition_of(key, self.partitions) in self.owned

    def update(self, table: dict[str, bytes]) -> list[Change]:
        """Take the table's current values; the owned flows that changed (or went away)."""
        changes = []
        for key in [k for k in self.raw if k not in table]:
            del self.raw[key]
            self.parsed.forget(key)
            self.dumped.pop(key, None)
            if self.flows.pop(key, None) is not None:
                changes.append(Change(key, None))
        for key, value in table.items():
            old = self.raw.get(key)
            if old is value or old == value:
                continue
            self.raw[key] = value
            if self.owns(key):
                changes.append(self._parse(key, value))
        return changes

    def assign(self, numbers: Iterable[int]) -> list[Change]:
        self.owned |= set(numbers)
        return [self._parse(k, v) for k, v in self.raw.items() if self.owns(k) and k not in self.flows]

    def revoke(self, numbers: Iterable[int]) -> list[str]:
        self.owned -= set(numbers)
        gone = [k for k in self.flows if not self.owns(k)]
        for key in gone:
            del self.flows[key]
            self.dumped.pop(key, None)
        return gone

    def _parse(self, key: str, value: bytes) -> Change:
        parsed = self.parsed.get(key, value)
        flow = parsed.flow
        if flow is None:  # deleted (`conveyor flows delete` / DELETE /api/v1/flows), or unreadable
            if parsed.error is not None:
                log.error("flow %s cannot be read; its triggers stop: %s", key, parsed.error)
            self.flows.pop(key, None)
            self.dumped.pop(key, None)
            return Change(key, None)
        self.flows[key] = flow
        self.dumped[key] = flow_json(flow)
        return Change(key, flow)
