"""Conveyor's Prometheus metrics, and the few hooks that feed them.

Each process runs one service; `service` (set once by `set_service`) labels every series so a dashboard
can split by service without relying on the scraper's target labels. The hooks are called by the Kafka
plumbing (messages consumed and produced, consumer lag from librdkafka's statistics) and by one decorator
per service loop (a batch of the executor, an attempt of a worker, a bulk of the indexer). Recording is
always on and cheap; `conveyor.common.observability` serves them over HTTP when a port is configured.

| metric | type | labels |
|---|---|---|
| conveyor_messages_consumed_total | counter | service, topic |
| conveyor_messages_produced_total | counter | service, topic (delivered, acknowledged by the broker) |
| conveyor_produce_errors_total | counter | service, topic |
| conveyor_consumer_lag | gauge | service, group, topic, partition (messages not yet read) |
| conveyor_processing_seconds | histogram | service, operation (batch, attempt, bulk) |
| conveyor_attempts_running | gauge | service |
| conveyor_attempts_total | counter | service, state (the attempt's final state, ABANDONED at shutdown) |
| conveyor_bulk_documents | histogram | service (documents per bulk request) |
| conveyor_bulk_failures_total | counter | service, kind (rejected: a document refused; error: the bulk failed) |
| conveyor_service_info | gauge | service, version |
| conveyor_schedule_lag_seconds | histogram | service (a slot's date to its execution being created) |
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Our own registry (tests can read it without the client library's global state); the process, platform
# and garbage-collector collectors give process_cpu_seconds_total, process_resident_memory_bytes...
REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)

CONSUMED = Counter(
    "conveyor_messages_consumed", "Messages consumed from Kafka", ["service", "topic"], registry=REGISTRY
)
PRODUCED = Counter("conveyor_messages_produced", "Messages delivered to Kafka", ["service", "topic"], registry=REGISTRY)
PRODUCE_ERRORS = Counter(
    "conveyor_produce_errors", "Messages Kafka did not accept", ["service", "topic"], registry=REGISTRY
)
LAG = Gauge(
    "conveyor_consumer_lag",
    "Messages of an assigned partition this consumer has not read yet",
    ["service", "group", "topic", "partition"],
    registry=REGISTRY,
)
PROCESSING = Histogram(
    "conveyor_processing_seconds",
    "Time to handle one unit of work: an executor batch, a worker attempt, an indexer bulk",
    ["service", "operation"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
ATTEMPTS_RUNNING = Gauge("conveyor_attempts_running", "Attempts running on this worker", ["service"], registry=REGISTRY)
ATTEMPTS = Counter("conveyor_attempts", "Attempts ended, by final state", ["service", "state"], registry=REGISTRY)
BULK_DOCUMENTS = Histogram(
    "conveyor_bulk_documents", "Documents per bulk write", ["service"], buckets=_SIZE_BUCKETS, registry=REGISTRY
)
BULK_FAILURES = Counter(
    "conveyor_bulk_failures",
    "Bulk writes that failed (error) and documents Elasticsearch refused (rejected)",
    ["service", "kind"],
    registry=REGISTRY,
)
SCHEDULE_LAG = Histogram(
    "conveyor_schedule_lag_seconds",
    "From a Schedule slot's date to the scheduler producing its execution",
    ["service"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
INFO = Gauge("conveyor_service_info", "The service this process runs", ["service", "version"], registry=REGISTRY)

_service = "conveyor"
_local = threading.local()
_polled_at = 0.0  # monotonic time of the last consume by any consumer of this process


def set_service(name: str) -> None:
    global _service
    _service = name
    INFO.labels(name, package_version()).set(1)


def service() -> str:
    return _service


def package_version() -> str:
    try:
        return version("conveyor")
    except PackageNotFoundError:
        return "unknown"


def last_poll() -> float:
    """When this process last polled Kafka (monotonic seconds; 0 before the first poll)."""
    return _polled_at


# ---- Kafka plumbing hooks
def beat() -> None:
    """The service's Kafka loop is alive (it polled, or is reading state to rebuild it)."""
    global _polled_at
    _polled_at = _local.polled_at = time.monotonic()


def consumed(topics: Iterable[str | None]) -> None:
    """A consume call returned (with these messages' topics): the loop is alive; count the messages."""
    beat()
    counts: dict[str, int] = {}
    for topic in topics:
        counts[topic or ""] = counts.get(topic or "", 0) + 1
    for topic, count in counts.items():
        CONSUMED.labels(_service, topic).inc(count)


_delivered: dict[tuple[str, str, bool], Any] = {}


def delivered(topic: str | None, ok: bool) -> None:
    """A delivery report (one per message produced: the children are cached, this runs on the hot path)."""
    key = (_service, topic or "", ok)
    child = _delivered.get(key)
    if child is None:
        child = _delivered[key] = (PRODUCED if ok else PRODUCE_ERRORS).labels(_service, topic or "")
    child.inc()


class LagReporter:
    """librdkafka's `stats_cb` for one subscribed consumer: sets `conveyor_consumer_lag` per partition,
    chaining to the caller's own callback. Never raises (it runs inside `consume`)."""

    def __init__(self, group: str, chained: Callable[[str], None] | None = None) -> None:
        self._group = group
        self._chained = chained
        self._labels: set[tuple[str, str]] = set()

    def __call__(self, stats: str) -> None:
        if self._chained is not None:
            self._chained(stats)
        try:
            lag = partition_lag(json.loads(stats))
        except (ValueError, TypeError, AttributeError) as exc:
            log.debug("unreadable consumer statistics: %s", exc)
            return
        labels = {(topic, str(number)) for topic, number in lag}
        for topic, partition in self._labels - labels:  # revoked since the last report
            LAG.remove(_service, self._group, topic, partition)
        for (topic, number), value in lag.items():
            LAG.labels(_service, self._group, topic, str(number)).set(value)
        self._labels = labels


def partition_lag(
    stats: dict[str, Any], positions: tuple[str, ...] = ("app_offset", "committed_offset")
) -> dict[tuple[str, int], int]:
    """(topic, partition) -> messages behind, for the partitions this consumer holds: the end offset (the
    last stable offset under read_committed) minus the first of `positions` librdkafka knows (by default
    the position, else the committed offset), else minus the log start."""
    out: dict[tuple[str, int], int] = {}
    for topic, data in (stats.get("topics") or {}).items():
        for key, p in (data.get("partitions") or {}).items():
            partition = int(key)
            if partition < 0 or not p.get("desired"):  # -1: librdkafka's internal partition
                continue
            end = p.get("ls_offset", -1)
            if end < 0:
                end = p.get("hi_offset", -1)
            if end < 0:
                continue
            position = next((p[k] for k in positions if p.get(k, -1) >= 0), None)
            if position is None:
                position = max(p.get("lo_offset", 0), 0)
            out[(topic, partition)] = max(end - position, 0)
    return out


# ---- one decorator per service loop
def scheduled(lag_seconds: float) -> None:
    """A Schedule slot fired `lag_seconds` after its date."""
    SCHEDULE_LAG.labels(_service).observe(max(lag_seconds, 0.0))


def timed_batch(operation: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """For a loop step that consumes then handles a batch and returns how many items it handled: the
    handling time (from the end of the consume, not the wait for messages) of non-empty batches."""

    def decorate(fn: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
            started = time.monotonic()
            handled = fn(*args, **kwargs)
            if handled:
                since = max(started, getattr(_local, "polled_at", started))
                PROCESSING.labels(_service, operation).observe(time.monotonic() - since)
            return handled

        return wrapper

    return decorate


def committed(seconds: float) -> None:
    """A transaction's commit took `seconds` (the executor's; its batch's events waited for it)."""
    PROCESSING.labels(_service, "commit").observe(seconds)


def timed_attempt(fn: Callable[P, R]) -> Callable[P, R]:
    """For `Attempt.run`: running attempts, their duration, and their final state (`result.state`)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        running = ATTEMPTS_RUNNING.labels(_service)
        running.inc()
        started = time.monotonic()
        state = "ERROR"
        try:
            result = fn(*args, **kwargs)
            state = _state_name(getattr(result, "state", None)) if result is not None else "ABANDONED"
            return result
        finally:
            running.dec()
            PROCESSING.labels(_service, "attempt").observe(time.monotonic() - started)
            ATTEMPTS.labels(_service, state).inc()

    return wrapper


def timed_bulk(fn: Callable[P, R]) -> Callable[P, R]:
    """For a bulk write `write(client, pending, ...)` returning a result with `rejected`: bulk sizes,
    durations, refused documents and failed bulks."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        pending = args[1] if len(args) > 1 else kwargs.get("pending")
        BULK_DOCUMENTS.labels(_service).observe(len(pending) if isinstance(pending, list) else 0)
        started = time.monotonic()
        try:
            result = fn(*args, **kwargs)
        except Exception:
            BULK_FAILURES.labels(_service, "error").inc()
            raise
        PROCESSING.labels(_service, "bulk").observe(time.monotonic() - started)
        rejected = len(getattr(result, "rejected", ()) or ())
        if rejected:
            BULK_FAILURES.labels(_service, "rejected").inc(rejected)
        return result

    return wrapper


def _state_name(state: Any) -> str:
    return str(getattr(state, "value", state) or "UNKNOWN")
