"""The 3-broker Kafka cluster and the 3-node Elasticsearch cluster keep their promises when a node dies:
no acknowledged write lost, each node SIGKILLed and restarted on its ports and data."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType  # type: ignore[attr-defined]
from elasticsearch import ApiError, BadRequestError, Elasticsearch

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.topics import Topics
from conveyor.common.servers.elasticsearch_cluster import ElasticsearchCluster
from conveyor.common.servers.kafka_cluster import KafkaCluster
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.indexer import templates

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _produce(bootstrap: str, topic: str, values: range) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    failures: list[str] = []
    for i in values:
        producer.produce(topic, key=str(i).encode(), value=str(i).encode(),
                         on_delivery=lambda err, _msg: failures.append(str(err)) if err else None)  # fmt: skip
    assert producer.flush(60) == 0
    assert not failures, failures[:3]


def _read_all(bootstrap: str, topic: str, expected: int) -> set[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:6]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    seen: set[int] = set()
    try:
        consumer.subscribe([topic])
        for _ in range(240):
            for msg in consumer.consume(500, 0.5):
                assert msg.error() is None, msg.error()
                seen.add(int(msg.value() or b"-1"))
            if len(seen) >= expected:
                break
    finally:
        consumer.close()
    return seen


def _replica_counts(admin: AdminClient, topic: str) -> set[int]:
    """The topic's replica counts per partition, once the broker answering has its metadata (another broker
    than the one that created the topic may not have it yet: no partitions for a moment)."""
    for _ in range(100):
        metadata = admin.list_topics(topic, timeout=10).topics[topic]
        if metadata.partitions:
            return {len(p.replicas) for p in metadata.partitions.values()}
        time.sleep(0.2)
    return set()


def _min_insync(admin: AdminClient, topic: str) -> str:
    """The topic's min.insync.replicas, asking again while the broker answering does not know the topic yet
    (UNKNOWN_TOPIC_OR_PART: its metadata lags, e.g. a broker restarted by an earlier test)."""
    resource = ConfigResource(ResourceType.TOPIC, topic)
    for _ in range(150):
        try:
            config = next(iter(admin.describe_configs([resource]).values())).result(timeout=10)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                time.sleep(0.2)
                continue
            raise
        return str(config["min.insync.replicas"].value)
    return "unknown: the topic stayed unknown for 30 s"


def test_kafka_cluster_topics_replicated_three_times_lose_nothing_when_the_leader_dies(
    kafka_cluster: KafkaCluster,
) -> None:
    settings = KafkaSettings(bootstrap=kafka_cluster.bootstrap, topic_prefix=f"t-cluster-{uuid.uuid4().hex[:6]}.")
    ensure_topics(settings)
    topic = Topics.of(settings).execution_events
    admin = AdminClient({"bootstrap.servers": kafka_cluster.bootstrap})
    assert _replica_counts(admin, topic) == {3}
    assert _min_insync(admin, topic) == "2"

    _produce(kafka_cluster.bootstrap, topic, range(0, 500))
    leaders = kafka_cluster.leaders(topic)
    victim = kafka_cluster.node(max(leaders, key=lambda n: leaders[n]))
    victim.kill()
    _produce(kafka_cluster.bootstrap, topic, range(500, 1000))  # two in-sync replicas left: still accepted
    victim.restart()
    kafka_cluster.wait_in_sync()
    controller = kafka_cluster.node(kafka_cluster.active_controller())
    controller.kill()
    _produce(kafka_cluster.bootstrap, topic, range(1000, 1500))
    controller.restart()
    kafka_cluster.wait_in_sync()
    assert _read_all(kafka_cluster.bootstrap, topic, 1500) == set(range(1500))


def _eventually_counted(client: Elasticsearch, index: str, timeout: float = 120.0) -> int:
    """The index's count once every shard answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = client.options(request_timeout=30).count(index=index)
            if answer["_shards"]["failed"] == 0 and answer["_shards"]["successful"] == answer["_shards"]["total"]:
                return int(answer["count"])
        except ApiError:  # no copy of some shard assigned yet
            pass
        assert time.monotonic() < deadline, "some shard did not answer in time"
        time.sleep(1.0)


def test_elasticsearch_cluster_keeps_every_document_when_a_node_dies(es_cluster: ElasticsearchCluster) -> None:
    settings = ElasticsearchSettings(url=es_cluster.urls, index_prefix=f"t-cluster-{uuid.uuid4().hex[:6]}")
    client = elasticsearch_client(settings)
    try:
        assert templates.replicas_for(client, None) == 1
        index = f"{settings.index_prefix}-docs"
        try:
            client.options(request_timeout=120).indices.create(
                index=index, settings={"number_of_shards": 3, "number_of_replicas": 1}
            )
        except BadRequestError as exc:  # a slow first answer, retried by the client, created it already
            assert exc.error == "resource_already_exists_exception", exc
        es_cluster.wait_green()
        for i in range(300):
            client.index(index=index, id=str(i), document={"n": i})
        client.indices.refresh(index=index)
        victim = es_cluster.nodes[1]
        victim.kill()
        # Once the cluster has seen the node go and promoted the replicas of its primaries, every document
        # answers from the two nodes left (until then a count may miss the dead node's shards).
        assert _eventually_counted(client, index) == 300
        victim.restart()
        es_cluster.wait_green()
        assert _eventually_counted(client, index) == 300
    finally:
        client.close()
