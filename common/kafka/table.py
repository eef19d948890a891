"""A compacted topic read as a table: the latest value of every key, kept current by catching up on demand.

`TopicTable.refresh()` reads every partition from where the last refresh stopped to the high watermark
it finds now, so a value produced (and acknowledged) before the call is always seen: read-your-writes
for the process that produced it, and for any other process once it refreshes. A tombstone removes
its key. The consumer joins no group and commits nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition
from confluent_kafka import Consumer as _Consumer

from conveyor.common.kafka import names
from conveyor.common.kafka.consumer import watermarks
from conveyor.common.kafka.errors import FatalKafkaError, RetryableKafkaError, from_exception, kafka_errors
from conveyor.common.kafka.message import received
from conveyor.common.settings import KafkaSettings


class TopicTable:
    def __init__(self, settings: KafkaSettings, topic: str, timeout: float = 10.0) -> None:
        self.topic = topic
        self._settings = settings
        self._timeout = timeout
        self._consumer: _Consumer | None = None
        self._values: dict[str, bytes] = {}
        self._changed: dict[str, bytes | None] = {}  # since the last `changes()`, if it is used
        self._track = False
        self._lock = threading.Lock()

    def refresh(self) -> dict[str, bytes]:
        """Catch up with the topic; returns a copy of the table (key -> latest value)."""
        with self._lock:
            try:
                self._catch_up()
            except KafkaException as exc:
                raise from_exception(exc, f"read {self.topic}") from exc
            return dict(self._values)

    def changes(self) -> dict[str, bytes | None]:
        """Catch up with the topic; returns the keys that changed since the previous call (all of them the
        first time) with their latest value, None for a deleted key. A follower's cost is what changed."""
        with self._lock:
            if not self._track:
                self._track = True
                self._changed = dict(self._values)
            try:
                self._catch_up()
            except KafkaException as exc:
                raise from_exception(exc, f"read {self.topic}") from exc
            changed, self._changed = self._changed, {}
            return changed

    def get(self, key: str, partition: int | None = None) -> bytes | None:
        """The key's latest value after catching up, None if absent or deleted (no copy of the table).
        `partition`: the key's, when the caller knows it: only that partition is caught up (one watermark
        query instead of one per partition)."""
        with self._lock:
            try:
                self._catch_up(None if partition is None else {partition})
            except KafkaException as exc:
                raise from_exception(exc, f"read {self.topic}") from exc
            return self._values.get(key)

    def cached(self, key: str) -> bytes | None:
        """The key's value as of the last catch-up (no read of the topic): for a caller that knows it caught up
        recently enough."""
        with self._lock:
            return self._values.get(key)

    def partition_count(self) -> int:
        """How many partitions the topic has (opens the reader if need be)."""
        with self._lock:
            if self._consumer is None:
                try:
                    self._consumer = self._open()
                except KafkaException as exc:
                    raise from_exception(exc, f"read {self.topic}") from exc
            return len(self._consumer.assignment())

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                consumer, self._consumer = self._consumer, None
                with kafka_errors(f"close the reader of {self.topic}"):
                    consumer.close()

    def _open(self) -> _Consumer:
        consumer = _Consumer(
            {
                **self._settings.client_config(),
                "group.id": names.TABLE_READER.id(self._settings.topic_prefix),  # required; never joined
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 10,
            }
        )
        metadata = consumer.list_topics(self.topic, timeout=self._timeout).topics.get(self.topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            consumer.close()
            reason = metadata.error if metadata is not None else "no metadata"
            raise FatalKafkaError(f"cannot read topic {self.topic}: {reason}")
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)])
        return consumer

    def _catch_up(self, partitions: set[int] | None = None) -> None:
        """Read up to the high watermarks seen now, of every partition or of `partitions` (what else arrives
        meanwhile is applied too)."""
        if self._consumer is None:
            self._consumer = self._open()
        consumer = self._consumer
        bounds: dict[int, tuple[int, int]] = {}
        for tp in consumer.assignment():
            if partitions is None or tp.partition in partitions:
                bounds[tp.partition] = watermarks(consumer, TopicPartition(tp.topic, tp.partition), self._timeout)
        deadline = time.monotonic() + self._timeout
        while True:
            behind = self._behind(consumer, bounds)
            if not behind:
                return
            if time.monotonic() > deadline:
                raise RetryableKafkaError(f"read {self.topic}: partitions {behind} not caught up in {self._timeout}s")
            for msg in received(_fetched(consumer), "read"):
                key = (msg.key or b"").decode("utf-8", "replace")
                if msg.value is None:
                    self._values.pop(key, None)
                else:
                    self._values[key] = msg.value
                if self._track:
                    self._changed[key] = msg.value

    def _behind(self, consumer: _Consumer, bounds: dict[int, tuple[int, int]]) -> list[int]:
        """Partitions whose position is still short of the high watermark seen at the start of this refresh.
        Before the first fetch the position is unknown (negative): the low watermark stands for it. Under
        read_committed the position may rest on a transaction marker no message reaches; it still counts."""
        positions = consumer.position([TopicPartition(self.topic, p) for p in bounds])
        behind = []
        for tp in positions:
            low, high = bounds[tp.partition]
            position = tp.offset if tp.offset >= 0 else low
            if position < high:
                behind.append(tp.partition)
        return behind


def _fetched(consumer: _Consumer) -> list[Any]:
    """What is already fetched, else the first message to arrive within 0.5 s and what came with it.
    (librdkafka's batch call waits out its whole timeout unless the batch fills: a refresh after a write
    waited 0.5 s for the one new message.)"""
    messages = consumer.consume(num_messages=1000, timeout=0)
    if not messages:
        messages = consumer.consume(num_messages=1, timeout=0.5)
        if messages:
            messages += consumer.consume(num_messages=999, timeout=0)
    return messages


__all__ = ["TopicTable"]
