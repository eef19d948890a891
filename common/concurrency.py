"""Flow concurrency (`concurrency: {limit, behavior}`) and what travels on its topics.

A flow with `concurrency` runs at most `limit` executions at once; a newcomer past the limit is QUEUED (it
starts when a slot frees, in the order it was queued), CANCELLED or FAILED, as `behavior` says. The count of
each flow lives in one place, the slot keeper (`executor.keeper`), which owns partition p of
`concurrency-requests` and of the compacted `concurrency-state` (docs/architecture.md, "Flow concurrency"):

- the executor sends `SlotRequested` when an execution of such a flow is created and `SlotReleased` when it
  ends, keyed by the flow (`flow_key`), in the transaction of that decision, and `SlotForced` when a QUEUED
  one is started by hand (unqueued);
- the keeper answers `SlotDecided` (START, QUEUE, CANCEL, FAIL) on `execution-events`, keyed by execution.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, PositiveInt, TypeAdapter

from conveyor.common.base import Model, Spec


class Behavior(StrEnum):
    QUEUE = "QUEUE"
    CANCEL = "CANCEL"
    FAIL = "FAIL"


class Concurrency(Spec):
    """The flow's `concurrency` property (the reference's: `limit` > 0, `behavior` QUEUE by default)."""

    limit: PositiveInt
    behavior: Behavior = Behavior.QUEUE


class Answer(StrEnum):
    START = "START"
    QUEUE = "QUEUE"
    CANCEL = "CANCEL"
    FAIL = "FAIL"


def flow_key(namespace: str, flow_id: str) -> str:
    return f"{namespace}/{flow_id}"


class SlotRequested(Model):
    """An execution of `flow` asks for a slot (on `concurrency-requests`, keyed by `flow`)."""

    kind: Literal["SlotRequested"] = "SlotRequested"
    flow: str
    execution_id: str
    limit: int
    behavior: Behavior


class SlotReleased(Model):
    """An execution of `flow` ended: the slot it holds (or its place in the queue) is free."""

    kind: Literal["SlotReleased"] = "SlotReleased"
    flow: str
    execution_id: str


class SlotForced(Model):
    """A QUEUED execution of `flow` was started by hand (unqueued): it holds a slot now, past the limit if
    need be, and leaves the queue; its `SlotReleased` frees it as any other."""

    kind: Literal["SlotForced"] = "SlotForced"
    flow: str
    execution_id: str


SlotMessage = Annotated[SlotRequested | SlotReleased | SlotForced, Field(discriminator="kind")]
SLOT_MESSAGE: TypeAdapter[SlotMessage] = TypeAdapter(SlotMessage)


class Holder(Model):
    """One record of `concurrency-state` (key `flow/executionId`): an execution that holds a slot
    (`running`) or waits in the queue at position `seq`; a tombstone once it released it."""

    flow: str
    execution_id: str
    running: bool
    seq: int
    limit: int
    date: datetime
