"""`read_partitions_to_end` on the real broker: a state rebuild never stops before a transaction that is
open or whose commit markers are not yet written (the executor's rebuild right after its own commit)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings

pytestmark = pytest.mark.integration


def _transactional(settings: KafkaSettings) -> Producer:
    return Producer(settings, transactional_id=f"t-state-reader-{uuid.uuid4().hex}")


def test_a_rebuild_begun_during_a_transaction_reads_what_it_commits(kafka_settings: KafkaSettings) -> None:
    topic = Topics.of(kafka_settings).executor_state
    producer = _transactional(kafka_settings)
    producer.begin()
    producer.send(topic, "before", b"1", partition=0)
    producer.commit()
    producer.begin()
    for n in range(50):
        producer.send(topic, f"k{n}", b"v", partition=0)
    producer.flush()  # in the log, not committed: the last stable offset is before them
    read: list[bytes] = []
    reader = threading.Thread(
        target=lambda: read.extend(m.key or b"" for m in read_partitions_to_end(kafka_settings, [(topic, 0)])),
        daemon=True,
    )
    reader.start()
    time.sleep(2.0)  # the reader has taken its end while the transaction is open
    producer.commit()
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert read == [b"before", *(f"k{n}".encode() for n in range(50))]


def test_an_aborted_transaction_at_the_end_is_passed_over(kafka_settings: KafkaSettings) -> None:
    topic = Topics.of(kafka_settings).executor_state
    producer = _transactional(kafka_settings)
    producer.begin()
    producer.send(topic, "kept", b"1", partition=1)
    producer.commit()
    producer.begin()
    producer.send(topic, "dropped", b"1", partition=1)
    producer.flush()
    producer.abort()
    assert [m.key for m in read_partitions_to_end(kafka_settings, [(topic, 1)])] == [b"kept"]


def test_back_to_back_commits_are_each_read_at_once(kafka_settings: KafkaSettings) -> None:
    """Each rebuild right after a commit returns sees that commit (its markers may still be in flight)."""
    topic = Topics.of(kafka_settings).executor_state
    producer = _transactional(kafka_settings)
    for n in range(10):
        producer.begin()
        producer.send(topic, f"r{n}", b"v", partition=0)
        producer.commit()
        keys = [m.key for m in read_partitions_to_end(kafka_settings, [(topic, 0)])]
        assert keys == [f"r{i}".encode() for i in range(n + 1)]
