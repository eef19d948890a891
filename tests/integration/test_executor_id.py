"""`CONVEYOR_EXECUTOR_EXECUTOR_ID` on the real broker: an executor started again with its id (as `conveyor up`
restarts one) fences its killed predecessor at once, and the predecessor's open transaction is aborted then,
not `transaction.timeout.ms` later; without an id every start has transactional ids of its own. (No static
group membership: librdkafka fenced a static executor by its own rejoin after the group coordinator's broker
was SIGKILLed, FENCED_INSTANCE_ID, fatal, in the cluster fault run of 2026-12-04.)"""

from __future__ import annotations

import uuid

import pytest

from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.errors import KafkaError
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import ExecutorSettings, KafkaSettings
from conveyor.executor.service import Executor

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_the_same_id_again_fences_the_predecessor_and_aborts_its_open_transaction(
    kafka_settings: KafkaSettings,
) -> None:
    settings = ExecutorSettings(executor_id=f"test-{uuid.uuid4().hex[:8]}")
    topic = Topics.of(kafka_settings).executor_state
    first = Executor(kafka_settings, settings)
    first.producer.begin()
    first.producer.send(topic, "a-key", b"never committed", partition=0)
    first.producer.flush()
    second = Executor(kafka_settings, settings)  # its start fences `first` and aborts its transaction
    try:
        assert second.producer.transactional_id == first.producer.transactional_id
        with pytest.raises(KafkaError):
            first.producer.commit()
        # read_committed readers are not held back by the dead transaction: the partition reads to its end
        # (an open transaction would keep its end out of reach), and the aborted record is not in it
        assert [m.value for m in read_partitions_to_end(kafka_settings, [(topic, 0)], timeout=30)] == []
    finally:
        second.close()
        first.consumer.close()


def test_without_an_id_each_start_has_its_own_transactional_id(
    kafka_settings: KafkaSettings,
) -> None:
    settings = ExecutorSettings()
    first, second = Executor(kafka_settings, settings), Executor(kafka_settings, settings)
    try:
        assert first.producer.transactional_id != second.producer.transactional_id
    finally:
        first.close()
        second.close()
