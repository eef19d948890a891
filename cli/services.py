"""`conveyor executor|worker|indexer|server`: one service in the foreground, for a cluster or the local stack.

Each one first serves its metrics and health endpoint (when `CONVEYOR_METRICS_PORT` is set, see
`common/observability.py`), then checks that Kafka accepts its credentials and that the topics are as
docs/architecture.md says (`common/kafka/verify.py`), and fails with a clear message otherwise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from conveyor.common.gctune import tune_gc
from conveyor.common.kafka.verify import verify_topics
from conveyor.common.logsetup import configure_logging
from conveyor.common.observability import serve_observability
from conveyor.common.settings import (
    ElasticsearchSettings,
    ExecutorSettings,
    IndexerSettings,
    KafkaSettings,
    WorkerSettings,
)
from conveyor.common.shutdown import stop_on_signals

log = logging.getLogger(__name__)


def _serve(name: str, body: Callable[[KafkaSettings, threading.Event], None]) -> int:
    configure_logging(service=name)
    stop = stop_on_signals()
    kafka = KafkaSettings()
    serve_observability(name)
    log.info("%s connecting to %s (topics %s*)", name, kafka.describe(), kafka.topic_prefix)
    verify_topics(kafka)
    tune_gc()
    body(kafka, stop)
    return 0


def executor() -> int:
    from conveyor.executor.service import run_executor

    return _serve("executor", lambda kafka, stop: run_executor(kafka, ExecutorSettings(), stop))


def worker() -> int:
    from conveyor.worker.main import run_worker

    return _serve("worker", lambda kafka, stop: run_worker(kafka, WorkerSettings(), stop))


def indexer() -> int:
    from conveyor.indexer.main import run_indexer

    return _serve(
        "indexer",
        lambda kafka, stop: run_indexer(kafka, ElasticsearchSettings(), IndexerSettings(), stop),
    )


def server(host: str | None, port: int | None) -> int:
    """The HTTP API; its metrics endpoint is ready at once (it has no Kafka loop to wait for)."""
    from conveyor.api.server import serve

    configure_logging(service="server")
    serve_observability("server", polls=False)
    return serve(host, port)
