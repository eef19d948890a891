"""Following a topic from now on, outside any group (the CLI's `run` and `follow`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer as _Consumer
from confluent_kafka import KafkaException, TopicPartition

from conveyor.common.kafka import names
from conveyor.common.kafka.consumer import watermarks
from conveyor.common.kafka.errors import FatalKafkaError, from_exception, kafka_errors
from conveyor.common.kafka.message import Message, received
from conveyor.common.settings import KafkaSettings


class Follower:
    """Reads the given topics from their current end: assign every partition at its high watermark,
    resolved before returning, so nothing produced after construction is missed."""

    def __init__(
        self,
        settings: KafkaSettings,
        topics: list[str],
        timeout: float = 10.0,
        *,
        partitions: dict[tuple[str, int], int] | None = None,
    ) -> None:
        """`partitions`: read only these (topic, partition) from these offsets instead (`topics` unused)."""
        with kafka_errors(f"follow {', '.join(topics or [t for t, _ in partitions or {}])}"):
            self._consumer = _Consumer(
                {
                    **settings.client_config(),
                    "group.id": names.FOLLOW.id(settings.topic_prefix, uuid.uuid4().hex),
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                    "fetch.wait.max.ms": 10,
                }
            )
            if partitions is not None:
                self._consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in partitions.items()])
                return
            metadata = self._consumer.list_topics(timeout=timeout)
            assignment = []
            for topic in topics:
                if topic not in metadata.topics:
                    raise FatalKafkaError(f"topic {topic} does not exist on {settings.bootstrap}")
                for partition in metadata.topics[topic].partitions:
                    tp = TopicPartition(topic, partition)
                    _, high = watermarks(self._consumer, tp, timeout)
                    assignment.append(TopicPartition(topic, partition, high))
            self._consumer.assign(assignment)

    def poll(self, timeout: float = 0.2) -> Iterator[Message]:
        try:
            raw = self._consumer.consume(num_messages=500, timeout=timeout)
        except KafkaException as exc:
            raise from_exception(exc, "follow") from exc
        yield from received(raw, "follow")

    def close(self) -> None:
        with kafka_errors("close the follower"):
            self._consumer.close()
