"""The real Kafka and Elasticsearch that tests and `conveyor up` run on this machine.

Fetched from Maven Central with the machine's `mvn` on first use and cached (see `maven.py`), started
on free loopback ports, health-checked, and stopped as process groups. Only this package starts
servers; tests choose between it, testcontainers and existing servers in `tests/servers.py`.

    with start_kafka() as kafka:
        kafka.bootstrap                      # "127.0.0.1:PORT"
    kafka, elasticsearch = start_local_servers(Path(".conveyor"))
"""

from conveyor.common.servers.elasticsearch import ElasticsearchServer, start_elasticsearch
from conveyor.common.servers.errors import FetchError, ServerError, StartError
from conveyor.common.servers.kafka import KafkaServer, start_kafka
from conveyor.common.servers.local import start_local_servers
from conveyor.common.servers.maven import ELASTICSEARCH_VERSION, KAFKA_VERSION, cache_dir, ensure_fetched

__all__ = [
    "ELASTICSEARCH_VERSION",
    "KAFKA_VERSION",
    "ElasticsearchServer",
    "FetchError",
    "KafkaServer",
    "ServerError",
    "StartError",
    "cache_dir",
    "ensure_fetched",
    "start_elasticsearch",
    "start_kafka",
    "start_local_servers",
]
