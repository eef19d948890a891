"""The indexer's entry point, for `conveyor indexer` and the local stack."""

from __future__ import annotations

import threading

from conveyor.common.settings import ElasticsearchSettings, IndexerSettings, KafkaSettings
from conveyor.indexer.service import Indexer


def run_indexer(
    kafka: KafkaSettings, es: ElasticsearchSettings, settings: IndexerSettings, stop: threading.Event
) -> None:
    """Index until `stop` is set; returns after the last batch was written or given back to Kafka."""
    Indexer(kafka, es, settings).run(stop)
