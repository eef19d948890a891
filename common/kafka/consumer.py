"""Consumers: batch consume, errors turned into our exceptions, offsets stored only after handling."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition
from confluent_kafka import Consumer as _Consumer
from confluent_kafka import KafkaError as _KafkaError

from conveyor.common import metrics
from conveyor.common.kafka import names
from conveyor.common.kafka.errors import FatalKafkaError, from_exception, kafka_errors
from conveyor.common.kafka.message import Message, received
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)

Partitions = list[tuple[str, int]]
OnPartitions = Callable[[Partitions], None]


class Consumer:
    def __init__(
        self,
        settings: KafkaSettings,
        group_id: str,
        topics: list[str] | None = None,
        *,
        on_assign: OnPartitions | None = None,
        on_revoke: OnPartitions | None = None,
        transactional: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        config = {
            **settings.client_config(),
            "group.id": group_id,
            "enable.auto.commit": not transactional,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": settings.fetch_wait_ms,
            "isolation.level": "read_committed",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000,
            **(extra or {}),
        }
        if topics:  # a group member: its lag per partition becomes a metric (librdkafka's statistics)
            config["stats_cb"] = metrics.LagReporter(group_id, config.get("stats_cb"))
            config.setdefault("statistics.interval.ms", 5000)
        with kafka_errors(f"consumer of group {group_id}"):
            self._consumer = _Consumer(config)
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        if topics:
            try:
                self._consumer.subscribe(
                    topics, on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked
                )
            except KafkaException as exc:
                self.close()
                raise from_exception(exc, f"subscribe to {', '.join(topics)}") from exc

    def _assigned(self, _: Any, partitions: list[TopicPartition]) -> None:
        if self._on_assign and partitions:
            self._on_assign([(p.topic, p.partition) for p in partitions])

    def _revoked(self, _: Any, partitions: list[TopicPartition]) -> None:
        if self._on_revoke and partitions:
            self._on_revoke([(p.topic, p.partition) for p in partitions])

    def consume(self, max_messages: int = 500, timeout: float = 0.1) -> list[Message]:
        """Up to `max_messages`: what is already fetched, else the first to arrive within `timeout` and
        what came with it. (librdkafka's own batch call waits out the whole timeout unless the batch fills,
        which would add the timeout to every step of every execution.)"""
        try:
            messages = self._consumer.consume(num_messages=max_messages, timeout=0)
            if not messages and timeout > 0:
                messages = self._consumer.consume(num_messages=1, timeout=timeout)
                if messages and max_messages > 1:
                    messages += self._consumer.consume(num_messages=max_messages - 1, timeout=0)
        except KafkaException as exc:
            raise from_exception(exc, "consume") from exc
        out = received(messages, "consume from")
        metrics.consumed(msg.topic for msg in out)
        return out

    def store(self, messages: Iterable[Message]) -> None:
        """Mark messages handled: their offsets will be committed (auto-commit or `commit`)."""
        last: dict[tuple[str, int], int] = {}
        for msg in messages:
            key = (msg.topic, msg.partition)
            last[key] = max(last.get(key, -1), msg.offset)
        if last:
            try:
                self._consumer.store_offsets(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()])
            except KafkaException as exc:
                raise from_exception(exc, "store offsets") from exc

    def commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not (isinstance(error, _KafkaError) and error.code() == _KafkaError._NO_OFFSET):
                raise from_exception(exc, "commit") from exc

    def positions(self) -> list[TopicPartition]:
        """The assigned partitions' positions (what `Producer.commit` sends to a transaction)."""
        with kafka_errors("read positions"):
            return [p for p in self._consumer.position(self._consumer.assignment()) if p.offset >= 0]

    def group_metadata(self) -> Any:
        with kafka_errors("read the group metadata"):
            return self._consumer.consumer_group_metadata()

    def assignment(self) -> Partitions:
        with kafka_errors("read the assignment"):
            return [(p.topic, p.partition) for p in self._consumer.assignment()]

    def pause(self, partitions: Partitions) -> None:
        with kafka_errors("pause"):
            self._consumer.pause([TopicPartition(t, p) for t, p in partitions])

    def resume(self, partitions: Partitions) -> None:
        with kafka_errors("resume"):
            self._consumer.resume([TopicPartition(t, p) for t, p in partitions])

    def give_back(self, messages: Iterable[Message]) -> None:
        """Consumed messages left unhandled: each partition goes back to the first of them, so that they are
        consumed again (and the positions a transaction commits do not pass them)."""
        first: dict[tuple[str, int], int] = {}
        for msg in messages:
            key = (msg.topic, msg.partition)
            first[key] = min(first.get(key, msg.offset), msg.offset)
        with kafka_errors("seek back"):
            for (topic, partition), offset in first.items():
                self._consumer.seek(TopicPartition(topic, partition, offset))

    def seek_to_committed(self, partitions: Partitions) -> None:
        """Rewind to the last committed offsets (after an aborted transaction)."""
        try:
            committed = self._consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=10)
            for tp in committed:
                self._consumer.seek(
                    TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
                )
        except KafkaException as exc:
            raise from_exception(exc, "rewind to the committed offsets") from exc

    def close(self) -> None:
        try:
            self._consumer.close()
        except (RuntimeError, KafkaException) as exc:
            log.debug("consumer close: %s", exc)


def read_partitions_to_end(settings: KafkaSettings, partitions: Partitions, timeout: float = 60.0) -> Iterable[Message]:
    """Every committed message of the given partitions from the beginning to the high watermark, with a
    separate, unsubscribed consumer (used to rebuild state from a compacted topic).

    The end is the high watermark as a read_uncommitted client sees it, not the read_committed one: the latter
    is the last stable offset, and a transaction's commit markers are written after its `commit_transaction`
    has returned, so a rebuild just after a commit (one's own, before a rebalance) would stop before that
    commit's records. Reading read_committed up to the high watermark waits instead until every transaction
    below it has ended (at most a dead producer's transaction timeout)."""
    ends = _high_watermarks(settings, partitions, timeout)
    if not ends:
        return
    with kafka_errors("open a state reader"):
        consumer = _Consumer(_reader_config(settings, "read_committed"))
    try:
        start = [TopicPartition(topic, partition, low) for (topic, partition), (low, _) in ends.items()]
        with kafka_errors("read state"):
            consumer.assign(start)
        while ends:
            metrics.beat()  # rebuilding a large state is the loop's work too, not a stall
            try:
                raw = consumer.consume(num_messages=1000, timeout=1.0)
            except KafkaException as exc:
                raise from_exception(exc, "read state") from exc
            for msg in received(raw, "read state from"):
                key = msg.topic_partition
                yield msg
                if key in ends and msg.offset + 1 >= ends[key][1]:
                    del ends[key]
            # read_committed: the last offsets may be transaction markers no message reaches
            for key, (_, high) in list(ends.items()):
                with kafka_errors("read state"):
                    pos = consumer.position([TopicPartition(key[0], key[1])])[0].offset
                if pos >= high:
                    del ends[key]
    finally:
        with kafka_errors("close the state reader"):
            consumer.close()


def _high_watermarks(
    settings: KafkaSettings, partitions: Partitions, timeout: float
) -> dict[tuple[str, int], tuple[int, int]]:
    """The low and high (read_uncommitted) watermarks of the partitions that hold messages."""
    with kafka_errors("open a state reader"):
        probe = _Consumer(_reader_config(settings, "read_uncommitted"))
    try:
        ends: dict[tuple[str, int], tuple[int, int]] = {}
        for topic, partition in partitions:
            low, high = watermarks(probe, TopicPartition(topic, partition), timeout)
            if high > low:
                ends[(topic, partition)] = (low, high)
        return ends
    finally:
        with kafka_errors("close the state reader"):
            probe.close()


def _reader_config(settings: KafkaSettings, isolation: str) -> dict[str, Any]:
    return {
        **settings.client_config(),
        "group.id": names.STATE_READER.id(settings.topic_prefix),
        "enable.auto.commit": False,
        "isolation.level": isolation,
        "fetch.wait.max.ms": 10,
    }


def tail_consumer(
    settings: KafkaSettings, topic: str, timeout: float = 30.0, *, from_beginning: bool = False
) -> Consumer:
    """A consumer of every partition of `topic` from its high watermark, in no group: each process that
    calls this sees every message produced after it returns (the kills topic). `from_beginning` starts at
    the low watermark instead (a compacted topic read whole, then followed: worker heartbeats)."""
    consumer = Consumer(
        settings,
        names.TAIL.id(settings.topic_prefix, uuid.uuid4().hex),  # required by the client; no group is joined
        extra={"enable.auto.commit": False},
    )
    raw = consumer._consumer
    try:
        metadata = raw.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            reason = metadata.error if metadata is not None else "no metadata"
            raise FatalKafkaError(f"cannot read topic {topic}: {reason}")
        ends = []
        for partition in sorted(metadata.partitions):
            low, high = watermarks(raw, TopicPartition(topic, partition), timeout)
            ends.append(TopicPartition(topic, partition, low if from_beginning else high))
        raw.assign(ends)
    except KafkaException as exc:
        consumer.close()
        raise from_exception(exc, f"tail {topic}") from exc
    except BaseException:
        consumer.close()
        raise
    return consumer


def watermarks(consumer: _Consumer, tp: TopicPartition, timeout: float) -> tuple[int, int]:
    """The partition's low and high offsets, retrying while the broker is electing a leader."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            return int(low), int(high)
        except KafkaException as exc:
            # a new topic's partitions answer NOT_LEADER for a moment, not flagged retriable
            if time.monotonic() > deadline:
                raise from_exception(exc, f"watermarks of {tp.topic}[{tp.partition}]") from exc
            time.sleep(0.2)


__all__ = ["Consumer", "Message", "Partitions", "read_partitions_to_end", "tail_consumer", "watermarks"]
