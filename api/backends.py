"""What the routes talk to: the Elasticsearch client (reads), the Kafka producer and the flow catalog
(writes). Kafka is touched only on first use, so the search API and the page work without a broker."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch
from fastapi import Request

from conveyor.api.catalog import FlowCatalog
from conveyor.api.settings import ServerSettings
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.errors import KafkaError
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

log = logging.getLogger(__name__)


@dataclass
class Backends:
    kafka: KafkaSettings
    es: ElasticsearchSettings
    server: ServerSettings
    client: Elasticsearch
    _producer: Producer | None = None
    _catalog: FlowCatalog | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, kafka: KafkaSettings, es: ElasticsearchSettings, server: ServerSettings) -> Backends:
        return cls(kafka, es, server, elasticsearch_client(es))

    @property
    def prefix(self) -> str:
        return self.es.index_prefix

    @property
    def topics(self) -> Topics:
        return Topics.of(self.kafka)

    @property
    def producer(self) -> Producer:
        with self._lock:
            if self._producer is None:
                self._producer = Producer(self.kafka)
            return self._producer

    @property
    def catalog(self) -> FlowCatalog:
        producer = self.producer
        with self._lock:
            if self._catalog is None:
                self._catalog = FlowCatalog(self.kafka, producer)
            return self._catalog

    def close(self) -> None:
        try:
            if self._catalog is not None:
                self._catalog.close()
            if self._producer is not None:
                self._producer.flush(10.0)
        except KafkaError as exc:
            log.warning("Kafka at shutdown: %s", exc)
        finally:
            self.client.close()


def backends(request: Request) -> Backends:
    """FastAPI dependency: the app's backends."""
    found: Backends = request.app.state.backends
    return found
