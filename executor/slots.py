"""The slot keeper's pure core: the holders and the queue of each flow, and what a request or a release does.

`Slots.apply(message, now)` changes the table and returns what to publish: the `Holder` records that changed
(None: a tombstone) and the answers to send. No I/O here; `executor.keeper` is the Kafka shell around it.

- A request from an execution already known (a duplicate) changes nothing and is answered nothing.
- Under the limit the execution holds a slot (START). At the limit: QUEUE puts it at the end of the queue
  (QUEUE); CANCEL and FAIL answer so and keep nothing.
- A release frees the execution's slot, or takes it out of the queue, and starts the head of the queue while
  there is room. A release of an unknown execution (cancelled, failed, or released before) changes nothing.
- A forced slot (an execution unqueued by hand) takes the execution out of the queue and counts it running,
  past the limit if need be (no answer: the executor started it already); for an execution already running
  or unknown it changes nothing.
- The limit is the one of the flow's latest request (a new revision may change it); a higher limit starts
  queued executions at once, a lower one lets the running ones end before the next starts.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from conveyor.common.concurrency import Answer, Behavior, Holder, SlotForced, SlotMessage, SlotRequested

QUEUED_ANSWERS = {Behavior.QUEUE: Answer.QUEUE, Behavior.CANCEL: Answer.CANCEL, Behavior.FAIL: Answer.FAIL}


def holder_key(flow: str, execution_id: str) -> str:
    return f"{flow}/{execution_id}"


@dataclass
class FlowSlots:
    limit: int
    running: dict[str, Holder] = field(default_factory=dict)
    # execution id -> holder, in queue order (their `seq` ascending)
    queue: OrderedDict[str, Holder] = field(default_factory=OrderedDict)
    next_seq: int = 0

    @property
    def empty(self) -> bool:
        return not self.running and not self.queue


@dataclass
class Outcome:
    """What one message changed: records to write (key -> holder, None to delete) and answers, in order."""

    records: dict[str, Holder | None] = field(default_factory=dict)
    answers: list[tuple[str, Answer]] = field(default_factory=list)

    def merge(self, other: Outcome) -> None:
        self.records.update(other.records)
        self.answers.extend(other.answers)


class Slots:
    """The slot table of the flows of the keeper's partitions."""

    def __init__(self) -> None:
        self.flows: dict[str, FlowSlots] = {}

    def load(self, holder: Holder) -> None:
        """A record read back from `concurrency-state` (recovery): records come in write order."""
        slots = self.flows.setdefault(holder.flow, FlowSlots(holder.limit))
        slots.limit = holder.limit
        slots.running.pop(holder.execution_id, None)
        slots.queue.pop(holder.execution_id, None)
        (slots.running if holder.running else slots.queue)[holder.execution_id] = holder
        slots.next_seq = max(slots.next_seq, holder.seq + 1)

    def unload(self, flow: str, execution_id: str) -> None:
        """A tombstone read back from `concurrency-state`."""
        slots = self.flows.get(flow)
        if slots is None:
            return
        slots.running.pop(execution_id, None)
        slots.queue.pop(execution_id, None)

    def sort_queues(self) -> None:
        """After loading: each queue in `seq` order (compaction may have reordered the records)."""
        for slots in self.flows.values():
            slots.queue = OrderedDict(sorted(slots.queue.items(), key=lambda item: item[1].seq))

    def drop(self, flows: set[str]) -> None:
        for flow in flows:
            self.flows.pop(flow, None)

    def apply(self, message: SlotMessage, now: datetime) -> Outcome:
        if isinstance(message, SlotRequested):
            return self._request(message, now)
        if isinstance(message, SlotForced):
            return self._force(message.flow, message.execution_id, now)
        return self._release(message.flow, message.execution_id, now)

    def _request(self, request: SlotRequested, now: datetime) -> Outcome:
        out = Outcome()
        slots = self.flows.setdefault(request.flow, FlowSlots(request.limit))
        slots.limit = request.limit
        key = request.execution_id
        if key in slots.running or key in slots.queue:
            return out  # delivered again
        self._fill(slots, request.flow, now, out)  # a raised limit starts those queued before this one
        if len(slots.running) < slots.limit:
            self._hold(slots, request.flow, key, now, out)
            out.answers.append((key, Answer.START))
        elif request.behavior == Behavior.QUEUE:
            holder = self._holder(slots, request.flow, key, now, running=False)
            slots.queue[key] = holder
            out.records[holder_key(request.flow, key)] = holder
            out.answers.append((key, Answer.QUEUE))
        else:
            out.answers.append((key, QUEUED_ANSWERS[request.behavior]))
        return out

    def _force(self, flow: str, key: str, now: datetime) -> Outcome:
        out = Outcome()
        slots = self.flows.get(flow)
        if slots is not None and slots.queue.pop(key, None) is not None:
            self._hold(slots, flow, key, now, out)
        return out

    def _release(self, flow: str, key: str, now: datetime) -> Outcome:
        out = Outcome()
        slots = self.flows.get(flow)
        if slots is None:
            return out
        if slots.running.pop(key, None) is not None or slots.queue.pop(key, None) is not None:
            out.records[holder_key(flow, key)] = None
        self._fill(slots, flow, now, out)
        if slots.empty:
            del self.flows[flow]
        return out

    def _fill(self, slots: FlowSlots, flow: str, now: datetime, out: Outcome) -> None:
        while slots.queue and len(slots.running) < slots.limit:
            key, _ = slots.queue.popitem(last=False)
            self._hold(slots, flow, key, now, out)
            out.answers.append((key, Answer.START))

    def _hold(self, slots: FlowSlots, flow: str, key: str, now: datetime, out: Outcome) -> None:
        holder = self._holder(slots, flow, key, now, running=True)
        slots.running[key] = holder
        out.records[holder_key(flow, key)] = holder

    @staticmethod
    def _holder(slots: FlowSlots, flow: str, key: str, now: datetime, *, running: bool) -> Holder:
        seq = slots.next_seq
        slots.next_seq += 1
        return Holder(flow=flow, execution_id=key, running=running, seq=seq, limit=slots.limit, date=now)

    def counts(self, flow: str) -> tuple[int, int]:
        """(running, queued) of a flow."""
        slots = self.flows.get(flow)
        return (len(slots.running), len(slots.queue)) if slots else (0, 0)
