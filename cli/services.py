"""`conveyor executor|worker|indexer`: one service in the foreground, for a cluster or the local stack."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from conveyor.common.kafka.admin import wait_for_topics
from conveyor.common.kafka.topics import SPECS, Topics
from conveyor.common.logsetup import configure_logging
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
    topics = Topics.of(kafka)
    wait_for_topics(kafka, [topics.name(s.name) for s in SPECS])
    log.info("%s connecting to %s (topics %s*)", name, kafka.bootstrap, kafka.topic_prefix)
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
