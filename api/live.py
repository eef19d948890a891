"""The server's live feed: ONE tail consumer of the `logs`, `executions` and `taskruns` topics per API process,
fanned out to the server-sent-event streams of the Execution page (`api/follow.py`).

The consumer (a thread, started by the first subscriber, outside any consumer group: every server sees every
record produced after it started) reads a batch, keeps only the records of executions somebody follows
(their id read from the JSON, nothing validated for the others), turns each into the document the indexer
would write (`indexer.documents`: SECRET inputs masked, `durationMs` added) and hands each subscriber its
part of the batch with one call into the subscriber's event loop. A subscriber's queue is bounded: one that
does not keep up is dropped (its stream ends with an `overflow` event) and never slows the consumer or the
other subscribers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from conveyor.common.events import LogEntry, TaskRunChange
from conveyor.common.kafka.errors import KafkaError
from conveyor.common.kafka.follow import Follower
from conveyor.common.kafka.message import Message
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings
from conveyor.indexer.documents import execution_document, taskrun_document

log = logging.getLogger(__name__)

# Events a subscriber may have waiting before it is dropped (a log line is ~0.3 kB: ~0.6 MB a subscriber).
QUEUE_SIZE = 2000
OVERFLOW = ("overflow", {"message": "this stream fell behind and was closed: reload"})

Event = tuple[str, dict[str, Any]]  # (kind: "log" | "execution" | "taskrun", the document)


@dataclass(eq=False)
class Subscription:
    """One stream's view of the feed: the kinds it wants of one execution, and its bounded queue."""

    execution_id: str
    kinds: frozenset[str]
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False

    def offer(self, events: list[Event]) -> None:
        """In the subscriber's loop: queue the events, or drop the subscriber when they do not fit."""
        if self.dropped:
            return
        if self.queue.qsize() + len(events) > QUEUE_SIZE:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(OVERFLOW)
            return
        for event in events:
            self.queue.put_nowait(event)


def route(msg: Message, topics: Topics) -> tuple[str, str, Any] | None:
    """(kind, execution id, raw JSON) of a record of the three topics, None for a tombstone or another topic."""
    if msg.value is None:
        return None
    raw = orjson.loads(msg.value)
    if msg.topic == topics.logs:
        return "log", str(raw.get("executionId", "")), raw
    if msg.topic == topics.taskruns:
        return "taskrun", str(raw.get("taskRun", {}).get("executionId", "")), raw
    if msg.topic == topics.executions:
        return "execution", str(raw.get("id", "")), raw
    return None


def document(kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    """What the streams send: the indexer's document of the record (the shape the search API answers)."""
    if kind == "log":
        return LogEntry.model_validate(raw).to_dict()
    if kind == "taskrun":
        return taskrun_document(TaskRunChange.model_validate(raw), raw)
    return execution_document(Execution.model_validate(raw), raw)


class LiveFeed:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._topics = Topics.of(kafka)
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: KafkaError | None = None

    def subscribe(
        self, execution_id: str, kinds: frozenset[str], loop: asyncio.AbstractEventLoop, timeout: float = 30.0
    ) -> Subscription:
        """A subscription whose events `loop` receives, once the consumer is positioned: every record produced
        after this returns reaches it (it blocks: call it in a thread). Raises the consumer's `KafkaError` when
        it could not start."""
        sub = Subscription(execution_id, kinds, loop)
        with self._lock:
            self._subscribers[execution_id].add(sub)
            if self._thread is None or not self._thread.is_alive():
                self._ready.clear()
                self._error = None
                self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
                self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            self.unsubscribe(sub)
            raise self._error or KafkaError("the live feed did not start")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subscribers.get(sub.execution_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[sub.execution_id]

    @property
    def subscribers(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        try:
            follower = Follower(self._kafka, [self._topics.logs, self._topics.executions, self._topics.taskruns])
        except KafkaError as exc:
            log.warning("live feed: %s", exc)
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                try:
                    self._deliver(list(follower.poll(timeout=0.5)))
                except KafkaError as exc:  # a broker away for a while: the client reconnects by itself
                    log.warning("live feed: %s", exc)
                    self._stop.wait(1.0)
        finally:
            follower.close()

    def _deliver(self, messages: list[Message]) -> None:
        with self._lock:
            if not self._subscribers:
                return
            wanted = {eid: list(subs) for eid, subs in self._subscribers.items()}
        batches: dict[Subscription, list[Event]] = defaultdict(list)
        for msg in messages:
            try:
                found = route(msg, self._topics)
                if found is None or found[1] not in wanted:
                    continue
                kind, execution_id, raw = found
                subs = [s for s in wanted[execution_id] if kind in s.kinds]
                if not subs:
                    continue
                event = (kind, document(kind, raw))
            except (ValueError, TypeError, KeyError) as exc:  # a malformed record: the indexer dead-letters it
                log.debug("live feed skips %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, exc)
                continue
            for sub in subs:
                batches[sub].append(event)
        for sub, events in batches.items():
            try:
                sub.loop.call_soon_threadsafe(sub.offer, events)
            except RuntimeError:  # its loop has closed: the stream is gone
                self.unsubscribe(sub)
