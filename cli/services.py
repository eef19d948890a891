"""`conveyor executor|worker|indexer|scheduler|server`: one service in the foreground, for a cluster or the local stack.

Each one first serves its metrics and health endpoint (when `CONVEYOR_METRICS_PORT` is set, see
`common/observability.py`), then checks that Kafka accepts its credentials and that the topics are as
docs/architecture.md says (`common/kafka/verify.py`), and fails with a clear message otherwise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from conveyor.cli.flags import GlobalFlags, settings_from
from conveyor.common.encryption import default_cipher
from conveyor.common.gctune import tune_gc
from conveyor.common.kafka.acls import topic_specs
from conveyor.common.kafka.verify import verify_topics
from conveyor.common.logsetup import configure_logging
from conveyor.common.observability import serve_observability
from conveyor.common.settings import (
    ExecutorSettings,
    IndexerSettings,
    KafkaSettings,
    MetricsSettings,
    SchedulerSettings,
    WorkerSettings,
)
from conveyor.common.shutdown import stop_on_signals

log = logging.getLogger(__name__)


def _serve(name: str, flags: GlobalFlags, body: Callable[[KafkaSettings, threading.Event], None]) -> int:
    configure_logging(service=name)
    stop = stop_on_signals()
    kafka = flags.kafka()
    default_cipher()  # a bad CONVEYOR_ENCRYPTION_SECRET_KEY stops the service now, named
    serve_observability(name, settings_from(MetricsSettings))
    log.info("%s connecting to %s (topics %s*)", name, kafka.describe(), kafka.topic_prefix)
    verify_topics(kafka, topic_specs(name))  # its own topics: with least-privilege ACLs it sees no other
    tune_gc()
    body(kafka, stop)
    return 0


def executor(flags: GlobalFlags) -> int:
    from conveyor.executor.service import run_executor

    return _serve("executor", flags, lambda kafka, stop: run_executor(kafka, settings_from(ExecutorSettings), stop))


def worker(flags: GlobalFlags) -> int:
    from conveyor.worker.main import run_worker

    return _serve("worker", flags, lambda kafka, stop: run_worker(kafka, settings_from(WorkerSettings), stop))


def scheduler(flags: GlobalFlags) -> int:
    from conveyor.scheduler.service import run_scheduler

    return _serve("scheduler", flags, lambda kafka, stop: run_scheduler(kafka, settings_from(SchedulerSettings), stop))


def indexer(flags: GlobalFlags) -> int:
    from conveyor.indexer.main import run_indexer

    return _serve(
        "indexer",
        flags,
        lambda kafka, stop: run_indexer(kafka, flags.elasticsearch(), settings_from(IndexerSettings), stop),
    )


def server(flags: GlobalFlags, host: str | None, port: int | None) -> int:
    """The HTTP API; its metrics endpoint is ready at once (it has no Kafka loop to wait for)."""
    from conveyor.api.server import serve
    from conveyor.api.settings import ServerSettings

    configure_logging(service="server")
    default_cipher()
    serve_observability("server", settings_from(MetricsSettings), polls=False)
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    return serve(settings_from(ServerSettings, **overrides), flags.kafka(), flags.elasticsearch())
