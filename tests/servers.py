"""The one place that chooses the Kafka and Elasticsearch the tests run against.

In order of preference, for each server on its own:
1. an existing server: `CONVEYOR_KAFKA_BOOTSTRAP` / `CONVEYOR_ELASTICSEARCH_URL`;
2. a container, when a Docker engine answers (a laptop, a cluster's CI): testcontainers with the
   official images;
3. the real server from Maven Central, run as a local process by `conveyor.common.servers`.

The servers live for the whole session. `tests/conftest.py` imports the two fixtures; whichever a
session uses first starts every server still needed (side by side, since Elasticsearch is slow),
and as the first session fixture set up it is the last torn down, so it stops them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pytest

from conveyor.common.servers import ELASTICSEARCH_VERSION, KAFKA_VERSION, start_local_servers
from conveyor.common.servers.elasticsearch import start_elasticsearch
from conveyor.common.servers.kafka import start_kafka
from conveyor.common.servers.process import free_port

KAFKA_IMAGE = f"apache/kafka:{KAFKA_VERSION}"
ELASTICSEARCH_IMAGE = f"docker.elastic.co/elasticsearch/elasticsearch:{ELASTICSEARCH_VERSION}"


@dataclass
class _Servers:
    kafka_bootstrap: str
    elasticsearch_url: str


_session: _Servers | None = None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """`host:port` of a Kafka broker (KRaft, one node, topics are not auto-created)."""
    with _servers() as servers:
        yield servers.kafka_bootstrap


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """`http://host:port` of an Elasticsearch 8 node, without security."""
    with _servers() as servers:
        yield servers.elasticsearch_url


@contextmanager
def _servers() -> Iterator[_Servers]:
    global _session
    if _session is not None:
        yield _session
        return
    with ExitStack() as stack:
        _session = _start(stack)
        try:
            yield _session
        finally:
            _session = None


def _start(stack: ExitStack) -> _Servers:
    kafka = os.environ.get("CONVEYOR_KAFKA_BOOTSTRAP", "")
    elasticsearch = os.environ.get("CONVEYOR_ELASTICSEARCH_URL", "")
    if kafka and elasticsearch:
        return _Servers(kafka, elasticsearch)
    if _docker_answers():
        kafka = kafka or _kafka_container(stack)
        elasticsearch = elasticsearch or _elasticsearch_container(stack)
    elif not kafka and not elasticsearch:
        local_kafka, local_elasticsearch = start_local_servers()
        stack.callback(local_kafka.stop)
        stack.callback(local_elasticsearch.stop)
        kafka, elasticsearch = local_kafka.bootstrap, local_elasticsearch.url
    elif not kafka:
        kafka = stack.enter_context(start_kafka()).bootstrap
    else:
        elasticsearch = stack.enter_context(start_elasticsearch()).url
    return _Servers(kafka, elasticsearch)


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _kafka_container(stack: ExitStack) -> str:
    # testcontainers' KafkaContainer drives Confluent's image with Confluent's scripts; the official
    # apache/kafka image takes its whole configuration from KAFKA_* variables instead. A fixed host
    # port lets the broker advertise the address clients outside the container use.
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    port = free_port()
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, port)
    container.waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    host = container.get_docker_client().host()
    for key, value in {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_NUM_PARTITIONS": "3",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }.items():
        container.with_env(key, value)
    stack.enter_context(container)
    return f"{host}:{port}"


def _elasticsearch_container(stack: ExitStack) -> str:
    from testcontainers.community.elasticsearch import ElasticSearchContainer

    # The container class switches security off for 8.x images.
    container = ElasticSearchContainer(ELASTICSEARCH_IMAGE, mem_limit="2g")
    container.with_env("discovery.type", "single-node").with_env("ES_JAVA_OPTS", "-Xms512m -Xmx1g")
    stack.enter_context(container)
    return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(container.port)}"
