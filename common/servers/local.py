"""Kafka and Elasticsearch together, single servers or clusters, started side by side (Elasticsearch takes
~10-20 s)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

from conveyor.common.servers.elasticsearch import ElasticsearchServer, launch_elasticsearch
from conveyor.common.servers.elasticsearch_cluster import ElasticsearchCluster, launch_elasticsearch_cluster
from conveyor.common.servers.kafka import KafkaServer, launch_kafka
from conveyor.common.servers.kafka_cluster import KafkaCluster, launch_kafka_cluster
from conveyor.common.servers.maven import ensure_fetched


class _Launched(Protocol):
    def wait_ready(self, timeout: float) -> None: ...
    def stop(self) -> None: ...


K = TypeVar("K", bound=_Launched)
E = TypeVar("E", bound=_Launched)


def start_local_servers(
    base_dir: Path | None = None, *, timeout: float = 180.0
) -> tuple[KafkaServer, ElasticsearchServer]:
    """Start both servers, in `base_dir`/kafka and `base_dir`/elasticsearch (temporary without one)."""
    return _start_both(
        lambda: launch_kafka(_under(base_dir, "kafka")),
        lambda: launch_elasticsearch(_under(base_dir, "elasticsearch")),
        timeout,
    )


def start_local_cluster(
    base_dir: Path | None = None, *, timeout: float = 300.0
) -> tuple[KafkaCluster, ElasticsearchCluster]:
    """The 3-broker Kafka cluster and the 3-node Elasticsearch cluster, in `base_dir`/kafka and
    `base_dir`/elasticsearch (temporary without one)."""
    return _start_both(
        lambda: launch_kafka_cluster(_under(base_dir, "kafka")),
        lambda: launch_elasticsearch_cluster(_under(base_dir, "elasticsearch")),
        timeout,
    )


def _under(base_dir: Path | None, name: str) -> Path | None:
    return None if base_dir is None else base_dir / name


def _start_both(launch_kafka: Callable[[], K], launch_es: Callable[[], E], timeout: float) -> tuple[K, E]:
    """Both processes (or every node) are spawned from the calling thread (their parent-death signal is tied
    to it); only the waiting happens on worker threads, side by side. If either fails, both are stopped."""
    ensure_fetched()
    kafka = launch_kafka()
    try:
        elasticsearch = launch_es()
    except BaseException:
        kafka.stop()
        raise
    pool = ThreadPoolExecutor(2, thread_name_prefix="conveyor-servers")
    try:
        waits = [pool.submit(kafka.wait_ready, timeout), pool.submit(elasticsearch.wait_ready, timeout)]
        for wait in waits:
            wait.result()
    except BaseException:
        # Stopping first also ends the other wait at once: it sees its process gone.
        kafka.stop()
        elasticsearch.stop()
        raise
    finally:
        pool.shutdown()
    return kafka, elasticsearch
