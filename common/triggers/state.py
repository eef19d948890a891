"""What the scheduler remembers of each trigger, and the requests that change it.

`TriggerState` records live on the compacted `trigger-state` topic, keyed `namespace/flowId/triggerId`,
in the partition of their flow (`partition_of(flow_key)`), so that one scheduler owns all of a flow's
triggers. `TriggerControl` requests (enable, disable, backfill) go on `trigger-control`, in the same
partition: the scheduler that owns the trigger applies them in the transaction that writes its state."""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from conveyor.common.base import Model
from conveyor.common.deployed import flow_key
from conveyor.common.ids import new_id
from conveyor.common.state import StateType


def trigger_key(namespace: str, flow_id: str, trigger_id: str) -> str:
    return f"{namespace}/{flow_id}/{trigger_id}"


def partition_of(key: str, partitions: int) -> int:
    """The partition of a flow key on `trigger-state` and `trigger-control` (both topics alike)."""
    return zlib.crc32(key.encode()) % partitions


def disabled_in(raw: bytes | None) -> bool:
    """Whether a `trigger-state` record (raw, as read from the topic) says its trigger is disabled, for the
    readers that only need that (the Flow trigger loop, webhooks): no full parse. An unreadable record does
    not (the scheduler that owns it dead-letters it)."""
    if raw is None:
        return False
    try:
        value = json.loads(raw)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("disabled") is True


class BackfillProgress(Model):
    """A backfill under way: the slots from `next` to `end` are still to fire."""

    id: str
    start: datetime
    end: datetime
    next: datetime | None = None
    inputs: dict[str, Any] = {}
    labels: dict[str, str] = {}
    fired: int = 0


class StoppedAfter(Model):
    """Why `stopAfter` disabled a trigger: the execution it started that ended in one of those states."""

    execution_id: str
    state: StateType
    date: datetime


class Met(Model):
    """A Flow trigger precondition met: by which ended execution, and when it ended."""

    execution_id: str
    date: datetime


class PreconditionWindow(Model):
    """What a Flow trigger waiting for several flows remembers (`scheduler/preconditions.py`): the window
    open, and for each condition met in it, by which execution; how many times it fired."""

    start: datetime | None = None
    end: datetime | None = None
    met: dict[str, Met] = {}
    fired: int = 0


class TriggerState(Model):
    namespace: str
    flow_id: str
    trigger_id: str
    type: str
    # Disabled through `conveyor triggers disable` or the API (the definition's `disabled` is the flow's).
    disabled: bool = False
    disabled_at: datetime | None = None
    # The last slot fired, and the next slot to consider (a Schedule's).
    last: datetime | None = None
    next: datetime | None = None
    # cron, withSeconds and timezone of the definition `next` was computed for: a change recomputes it.
    signature: str | None = None
    backfill: BackfillProgress | None = None
    # Set when `stopAfter` disabled the trigger (then `disabled` is true); cleared when it is enabled again.
    stopped_after: StoppedAfter | None = None
    # A Flow trigger waiting for several flows: its preconditions' window.
    window: PreconditionWindow | None = None
    updated: datetime | None = None

    @property
    def key(self) -> str:
        return trigger_key(self.namespace, self.flow_id, self.trigger_id)

    @property
    def flow_key(self) -> str:
        return flow_key(self.namespace, self.flow_id)


class Action(StrEnum):
    ENABLE = "enable"
    DISABLE = "disable"
    BACKFILL = "backfill"
    # Not a user's request: an execution the trigger started ended (sent by the scheduler's Flow trigger loop,
    # which reads the ended executions, to the partition of the trigger's flow) in one of its `stopAfter` states.
    STOP_AFTER = "stopAfter"
    # Not a user's request either: an ended execution met some of a Flow trigger's preconditions (`met`),
    # sent by the Flow trigger loop to the scheduler that owns the triggered flow, which keeps the window.
    PRECONDITION = "precondition"


class TriggerControl(Model):
    """A request to enable, disable or backfill one trigger (`end` defaults to the request's time)."""

    request_id: str = Field(default_factory=new_id)
    namespace: str
    flow_id: str
    trigger_id: str
    action: Action
    start: datetime | None = None
    end: datetime | None = None
    inputs: dict[str, Any] = {}
    labels: dict[str, str] = {}
    requested: datetime
    # For STOP_AFTER and PRECONDITION: the ended execution and its state; `requested` is when it ended.
    execution_id: str | None = None
    state: StateType | None = None
    # For PRECONDITION: the conditions it met, and the `trigger` variables of the execution it may start.
    met: list[str] = []
    variables: dict[str, Any] = {}

    @property
    def key(self) -> str:
        return trigger_key(self.namespace, self.flow_id, self.trigger_id)
