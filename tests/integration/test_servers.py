"""The servers from `tests.servers` do what Conveyor needs: topics, groups, transactions, search."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch

pytestmark = pytest.mark.integration


def _topic(kafka_bootstrap: str) -> str:
    name = f"t-servers-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)]).values():
        future.result(timeout=30)
    return name


def _consume_one(kafka_bootstrap: str, topic: str, **config: str) -> Message:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            **config,
        }
    )
    try:
        consumer.subscribe([topic])
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None:
                assert msg.error() is None, msg.error()
                return msg
        raise AssertionError(f"nothing arrived on {topic}")
    finally:
        consumer.close()


def test_kafka_produce_and_consume(kafka_bootstrap: str) -> None:
    topic = _topic(kafka_bootstrap)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    producer.produce(topic, key=b"k", value=b"hello")
    assert producer.flush(10) == 0

    msg = _consume_one(kafka_bootstrap, topic)

    assert (msg.key(), msg.value()) == (b"k", b"hello")


def test_kafka_transaction_commits(kafka_bootstrap: str) -> None:
    topic = _topic(kafka_bootstrap)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"committed")
    producer.commit_transaction(30)

    msg = _consume_one(kafka_bootstrap, topic, **{"isolation.level": "read_committed"})

    assert msg.value() == b"committed"


def test_elasticsearch_index_and_search(elasticsearch_url: str) -> None:
    index = f"t-servers-{uuid.uuid4().hex[:8]}"
    with Elasticsearch(elasticsearch_url) as client:
        client.index(index=index, id="1", document={"flow": "hello", "state": "SUCCESS"}, refresh=True)

        hits = client.search(index=index, query={"term": {"state.keyword": "SUCCESS"}})["hits"]

        assert hits["total"]["value"] == 1
        assert hits["hits"][0]["_source"]["flow"] == "hello"
        client.indices.delete(index=index)
