"""The 3-broker Kafka cluster and the 3-node Elasticsearch cluster, for the tests that ask for them.

Session-scoped and started only by a test that names a fixture: `kafka_cluster`, `es_cluster`. Always the
project's own processes (`conveyor.common.servers`), never a container or an existing server: the tests
SIGKILL and restart their nodes. Small heaps (Kafka 384 MiB, Elasticsearch 512 MiB a node).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conveyor.common.servers.elasticsearch_cluster import ElasticsearchCluster, start_elasticsearch_cluster
from conveyor.common.servers.kafka_cluster import KafkaCluster, start_kafka_cluster


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[KafkaCluster]:
    """Three KRaft nodes (broker and controller each), replication 3, min.insync.replicas 2."""
    with start_kafka_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def es_cluster() -> Iterator[ElasticsearchCluster]:
    """Three Elasticsearch nodes, each master-eligible and a data node."""
    with start_elasticsearch_cluster() as cluster:
        yield cluster
