"""Each deployed flow parsed once per process, whoever reads it.

The Schedule loop (`flows.OwnedFlows`) and the Flow trigger loop (`flow_triggers`) run as two threads of one
`conveyor scheduler` process, each its own reader of the `flows` topic; both parse what they read. Parsing is
most of what starting costs (10,000 flows: ~2 ms each), so they share one `ParsedFlows`: a value already
parsed under its key (the same `flows` record, i.e. the same revision) is returned as it was, the same
`DeployedFlow` and `Flow` objects. One lock: a thread that asks for a flow the other one is parsing waits for
that parse instead of doing it again. Each key keeps its latest value only (a new revision replaces it; a
tombstone drops it), so the cache holds what the process reads anyway, once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from pydantic import ValidationError

from conveyor.common.deployed import DeployedFlow
from conveyor.common.errors import ConveyorError
from conveyor.common.flow import Flow
from conveyor.common.loader import load_flow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parsed:
    """A `flows` record read: the deployed flow and its parsed definition (None when deleted), or the error
    that kept it from loading (then `deployed` may be None too)."""

    deployed: DeployedFlow | None
    flow: Flow | None
    error: str | None = None


def parse(key: str, raw: bytes) -> Parsed:
    try:
        deployed = DeployedFlow.model_validate_json(raw)
    except ValidationError as exc:
        return Parsed(None, None, str(exc))
    if deployed.deleted:  # `conveyor flows delete` / DELETE /api/v1/flows: a deleted revision
        return Parsed(deployed, None)
    try:
        flow = load_flow(deployed.source, f"flows/{key}").model_copy(update={"revision": deployed.revision})
    except (ConveyorError, ValueError) as exc:
        return Parsed(deployed, None, str(exc))
    return Parsed(deployed, flow)


class ParsedFlows:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[bytes, Parsed]] = {}
        self.parsed = 0  # how many parses were done (the rest were shared)
        self.shared = 0

    def get(self, key: str, raw: bytes) -> Parsed:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry[0] is raw or entry[0] == raw):
                self.shared += 1
                return entry[1]
            parsed = parse(key, raw)
            self._entries[key] = (raw, parsed)
            self.parsed += 1
            return parsed

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


# The one instance of the process: both loops of `conveyor scheduler` use it unless given another.
SHARED = ParsedFlows()
