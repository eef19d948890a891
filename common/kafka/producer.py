"""One producer per process: idempotent, acks=all, lz4, a short linger; optionally transactional."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka import Producer as _Producer

from conveyor.common import metrics
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.errors import KafkaError, from_kafka
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes | str]]


class Producer:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        transactional_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        config = {
            **settings.client_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "compression.type": "lz4",
            "message.max.bytes": 8 * 1024 * 1024,
            **(extra or {}),
        }
        if transactional_id:
            config["transactional.id"] = transactional_id
        self._producer = _Producer(config)
        self._failed: list[KafkaError] = []
        self.transactional = transactional_id is not None
        if self.transactional:
            self._call(self._producer.init_transactions, 30.0, context="init transactions")

    def _on_delivery(self, err: Any, msg: Any) -> None:
        metrics.delivered(msg.topic(), err is None)
        if err is not None:
            self._failed.append(from_kafka(err, f"delivery to {msg.topic()} failed"))

    def send(self, topic: str, key: str | bytes | None, value: bytes | None, headers: Headers | None = None) -> None:
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, headers=list(headers or []), on_delivery=self._on_delivery
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._producer.poll(0.05)

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)
        self.raise_failures()

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        self.raise_failures()
        if remaining:
            raise from_kafka_timeout(remaining)

    def raise_failures(self) -> None:
        if self._failed:
            first, self._failed = self._failed[0], []
            raise first

    # Transactions (exactly-once processing: consume -> produce -> commit offsets atomically)
    def begin(self) -> None:
        self._call(self._producer.begin_transaction, context="begin transaction")

    def commit(self, consumer: Consumer | None = None, timeout: float = 30.0) -> None:
        if consumer is not None:
            positions = consumer.positions()
            if positions:
                self._call(
                    self._producer.send_offsets_to_transaction,
                    positions,
                    consumer.group_metadata(),
                    timeout,
                    context="send offsets",
                )
        self._call(self._producer.commit_transaction, timeout, context="commit transaction")
        self.raise_failures()

    def abort(self, timeout: float = 30.0) -> None:
        try:
            self._producer.abort_transaction(timeout)
        except KafkaException as exc:
            log.warning("abort transaction failed: %s", exc)
        self._failed = []

    def _call(self, fn: Any, *args: Any, context: str) -> Any:
        try:
            return fn(*args)
        except KafkaException as exc:
            raise from_kafka(exc.args[0], context) from exc


def from_kafka_timeout(remaining: int) -> KafkaError:
    from conveyor.common.kafka.errors import RetryableKafkaError

    return RetryableKafkaError(f"{remaining} messages not delivered before the flush timeout")


__all__ = ["Producer", "TopicPartition"]
