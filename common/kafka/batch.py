"""One batch of a consume-process-produce service, published as a unit: in one Kafka transaction with the
consumed offsets (exactly-once), or, without transactions, flushed and then its offsets stored
(at-least-once: the services recognise a duplicate event by its id).

The slot keeper, the scheduler and its flow-trigger loop publish their batches through `publish_batch`; the
executor's loop has its own (its commit may run while the next batch is decided: `executor.service`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.errors import KafkaError
from conveyor.common.kafka.message import Message
from conveyor.common.kafka.producer import Producer

log = logging.getLogger(__name__)

T = TypeVar("T")


def publish_batch(
    producer: Producer, consumer: Consumer, messages: Sequence[Message], body: Callable[[], T], *, service: str
) -> T | None:
    """Run `body` (it handles `messages` and produces what they make) and publish the batch; `body`'s result.
    On a Kafka error the batch is rolled back (logged, the transaction aborted) and None is returned: the
    caller then rewinds (reloads its state, seeks back to the committed offsets) and consumes it again."""
    try:
        if producer.transactional:
            producer.begin()
        result = body()
        producer.poll(0)
        if producer.transactional:
            producer.commit(consumer)
        else:
            producer.flush()
            consumer.store(messages)
    except KafkaError as exc:
        log.error("%s: batch failed, rolling back: %s", service, exc)
        if producer.transactional:
            producer.abort()
        return None
    return result
