"""What the routes talk to: the Elasticsearch client (reads), the Kafka producer and the flow catalog
(writes). Kafka is touched only on first use, so the search API and the page work without a broker."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch
from fastapi import Request

from conveyor.api.catalog import FlowCatalog
from conveyor.api.live import LiveFeed
from conveyor.api.settings import AuthSettings, ServerSettings
from conveyor.api.tokenstore import TokenStore
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.errors import KafkaError
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.kv import KvStore
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

log = logging.getLogger(__name__)

# Answers to starts with an Idempotency-Key this server keeps in memory (older ones are read from Kafka).
REMEMBERED_STARTS = 10_000


@dataclass
class Backends:
    kafka: KafkaSettings
    es: ElasticsearchSettings
    server: ServerSettings
    client: Elasticsearch
    auth: AuthSettings = field(default_factory=AuthSettings)
    _producer: Producer | None = None
    _catalog: FlowCatalog | None = None
    _tokens: TokenStore | None = None
    _kv: KvStore | None = None
    _trigger_states: TopicTable | None = None
    _live: LiveFeed | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Starts made with an Idempotency-Key: execution id -> (fingerprint of the request, the answer given).
    _starts: OrderedDict[str, tuple[str, dict[str, Any]]] = field(default_factory=OrderedDict)

    @classmethod
    def of(
        cls, kafka: KafkaSettings, es: ElasticsearchSettings, server: ServerSettings, auth: AuthSettings
    ) -> Backends:
        return cls(kafka, es, server, elasticsearch_client(es), auth)

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

    @property
    def tokens(self) -> TokenStore:
        producer = self.producer
        with self._lock:
            if self._tokens is None:
                self._tokens = TokenStore(self.kafka, producer)
            return self._tokens

    @property
    def kv(self) -> KvStore:
        producer = self.producer
        with self._lock:
            if self._kv is None:
                self._kv = KvStore(self.kafka, producer)
            return self._kv

    @property
    def trigger_states(self) -> TopicTable:
        """The compacted `trigger-state` topic (the scheduler's), caught up on each read."""
        with self._lock:
            if self._trigger_states is None:
                self._trigger_states = TopicTable(self.kafka, self.topics.trigger_state)
            return self._trigger_states

    @property
    def live(self) -> LiveFeed:
        """The one tail of the logs, executions and taskruns topics the follow streams share."""
        with self._lock:
            if self._live is None:
                self._live = LiveFeed(self.kafka)
            return self._live

    def started(self, execution_id: str) -> tuple[str, dict[str, Any]] | None:
        with self._lock:
            return self._starts.get(execution_id)

    def remember_start(self, execution_id: str, fingerprint: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._starts[execution_id] = (fingerprint, body)
            self._starts.move_to_end(execution_id)
            while len(self._starts) > REMEMBERED_STARTS:
                self._starts.popitem(last=False)

    def close(self) -> None:
        try:
            if self._live is not None:
                self._live.close()
            if self._catalog is not None:
                self._catalog.close()
            if self._tokens is not None:
                self._tokens.close()
            if self._kv is not None:
                self._kv.close()
            if self._trigger_states is not None:
                self._trigger_states.close()
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
