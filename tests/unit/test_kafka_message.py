"""common/kafka's own message and errors: what librdkafka hands over becomes ours, once."""

from __future__ import annotations

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_NOT_AVAILABLE, KafkaException
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka import Message as ConfluentMessage

from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.errors import FatalKafkaError, RetryableKafkaError, from_exception, kafka_errors
from conveyor.common.kafka.message import Message, received
from conveyor.common.settings import KafkaSettings


def raw(offset: int, **fields: object) -> ConfluentMessage:
    values: dict[str, object] = {"topic": "p.logs", "partition": 2, "offset": offset, "key": b"k", "value": b"v"}
    return ConfluentMessage(**{**values, **fields})  # type: ignore[arg-type]


def test_records_become_messages_and_partition_ends_are_skipped() -> None:
    eof = raw(9, error=ConfluentError(ConfluentError._PARTITION_EOF))
    headers = [("conveyor.flow", b"f"), ("empty", None)]
    first, second = received(
        [raw(7, headers=headers, timestamp=(TIMESTAMP_CREATE_TIME, 1714521600000)), eof, raw(8, key=None, value=None)],
        "consume from",
    )
    assert first == Message("p.logs", 2, 7, b"k", b"v", (("conveyor.flow", b"f"), ("empty", None)), 1714521600000)
    assert (first.key_str, first.topic_partition) == ("k", ("p.logs", 2))
    assert second == Message("p.logs", 2, 8, None, None, (), None)  # a tombstone without key, headers, timestamp
    assert second.key_str == ""
    assert received([raw(1, timestamp=(TIMESTAMP_NOT_AVAILABLE, -1))], "x")[0].timestamp_ms is None


def test_messages_are_immutable() -> None:
    msg = Message("t", 0, 1, None, b"v")
    with pytest.raises(AttributeError):
        msg.value = b"other"  # type: ignore[misc]


def test_a_record_error_is_raised_as_ours() -> None:
    broken = raw(3, error=ConfluentError(ConfluentError._TRANSPORT))
    with pytest.raises(RetryableKafkaError, match=r"consume from p\.logs"):
        received([raw(2), broken], "consume from")
    with pytest.raises(FatalKafkaError):
        received([raw(3, error=ConfluentError(ConfluentError.TOPIC_AUTHORIZATION_FAILED))], "read")


def test_confluent_exceptions_become_ours() -> None:
    assert isinstance(from_exception(KafkaException(ConfluentError(ConfluentError._FENCED)), "x"), FatalKafkaError)
    assert isinstance(from_exception(KafkaException("bare text"), "x"), RetryableKafkaError)
    with pytest.raises(RetryableKafkaError, match="list topics") as caught, kafka_errors("list topics"):
        raise KafkaException(ConfluentError(ConfluentError._TIMED_OUT))
    assert isinstance(caught.value.__cause__, KafkaException)


def test_storing_an_offset_of_a_partition_not_assigned_raises_ours() -> None:
    consumer = Consumer(KafkaSettings(bootstrap="127.0.0.1:1"), "g", extra={"log_level": 0})
    try:
        with pytest.raises(RetryableKafkaError, match="store offsets"):
            consumer.store([Message("t", 0, 5, None, b"v")])
    finally:
        consumer.close()
