"""Checking, at a service's start, that Kafka answers with our credentials and that the topics are right.

`connect` fails fast with a clear message when the broker refuses the credentials (librdkafka only says
so through its error callback; a plain metadata request would just time out). `inspect_topics` compares
every topic of docs/architecture.md with what the cluster holds: `conveyor topics describe` prints it, and
`verify_topics` raises `FatalKafkaError` on what would break Conveyor:
- a missing topic (after waiting `topics_timeout` for `conveyor topics create`, run by a Job or a
  one-shot container alongside the services);
- a cleanup policy other than docs/architecture.md's: a `compact` topic that deletes loses executor state and the
  latest snapshots; a `delete` topic that compacts loses events sharing a key;
- `executor-state` partitioned unlike `execution-events` (the executor rebuilds the state of partition N
  of the events from partition N of the state).
A replication factor below `CONVEYOR_KAFKA_REPLICATION_FACTOR` is only logged as a warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType  # type: ignore[attr-defined]

from conveyor.common.kafka.errors import FatalKafkaError, kafka_errors
from conveyor.common.kafka.replication import replication_for
from conveyor.common.kafka.topics import CONTROL, EXECUTION_EVENTS, EXECUTOR_STATE, SPECS, TASKRUNS, Topics, TopicSpec
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)

# Topics whose partition p holds what execution-events' partition p holds (records keyed by execution id).
CO_PARTITIONED = (EXECUTOR_STATE, CONTROL, TASKRUNS)

# librdkafka's error codes that no retry will cure
_AUTH = {"_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED", "_SSL", "TOPIC_AUTHORIZATION_FAILED"}
# ... and those a cluster that is electing a controller or restarting a broker answers for a while
_TRANSIENT = {"_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "NOT_CONTROLLER", "REQUEST_TIMED_OUT"}
CONFIG_TIMEOUT = 60.0


@dataclass
class TopicReport:
    spec: TopicSpec
    name: str
    partitions: int | None = None  # None: missing
    replication: int | None = None
    cleanup: str | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def expected_cleanup(self) -> str:
        return "compact" if self.spec.compact else "delete"


class _Errors:
    """librdkafka's `error_cb`: keeps the last error that no retry cures (authentication, TLS)."""

    def __init__(self) -> None:
        self.fatal: Any = None

    def __call__(self, error: Any) -> None:
        if error.fatal() or error.name() in _AUTH:
            self.fatal = error


class _Debug:
    """librdkafka's own lines, at debug level: `connect` says what went wrong once, in one line."""

    def log(self, level: int, message: str, *args: Any) -> None:
        log.debug("librdkafka: " + message, *args)


def connect(settings: KafkaSettings, timeout: float = 30.0) -> AdminClient:
    """An admin client that has fetched metadata; `FatalKafkaError` naming the cause otherwise."""
    errors = _Errors()
    config: dict[str, Any] = {**settings.client_config(), "error_cb": errors, "logger": _Debug()}
    with kafka_errors(f"connect to Kafka at {settings.describe()}"):
        admin = AdminClient(config)
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin.list_topics(timeout=min(2.0, max(deadline - time.monotonic(), 0.1)))
            return admin
        except KafkaException as exc:
            admin.poll(0)  # serves the error callback (and librdkafka's log lines)
            if errors.fatal is not None:
                raise FatalKafkaError(
                    f"Kafka at {settings.describe()} refused the connection: {errors.fatal.str()}",
                    errors.fatal.name(),
                ) from None
            if time.monotonic() >= deadline:
                raise FatalKafkaError(
                    f"cannot reach Kafka at {settings.describe()} after {timeout:.0f}s: {exc.args[0].str()}",
                    exc.args[0].name(),
                ) from None


def inspect_topics(
    settings: KafkaSettings, admin: AdminClient | None = None, specs: Iterable[TopicSpec] = SPECS
) -> list[TopicReport]:
    """What the cluster holds for each topic of `specs`, and what is wrong with it."""
    admin = admin or connect(settings)
    names = Topics.of(settings)
    with kafka_errors("list topics"):
        cluster = admin.list_topics(timeout=30)
    metadata = cluster.topics
    wanted = replication_for(settings, len(cluster.brokers)).factor
    reports = [TopicReport(spec, names.name(spec.name)) for spec in specs]
    present = [r for r in reports if r.name in metadata and metadata[r.name].error is None]
    configs = _cleanup_policies(admin, [r.name for r in present])
    for report in reports:
        if report not in present:
            report.problems.append(_absent(admin, report.name))
            continue
        partitions = metadata[report.name].partitions
        report.partitions = len(partitions)
        report.replication = min((len(p.replicas) for p in partitions.values()), default=0)
        report.cleanup = configs.get(report.name)
        if report.cleanup != report.expected_cleanup:
            report.problems.append(f"cleanup.policy is {report.cleanup}, must be {report.expected_cleanup}")
        if report.replication < wanted:
            report.warnings.append(f"replication factor {report.replication} is below the configured {wanted}")
    by_spec = {r.spec.name: r for r in reports}
    events = by_spec.get(EXECUTION_EVENTS)
    for other in (by_spec.get(name) for name in CO_PARTITIONED):
        if events and other and events.partitions and other.partitions and events.partitions != other.partitions:
            other.problems.append(
                f"{other.partitions} partitions but {events.name} has {events.partitions}: they must be equal"
            )
    return reports


def _absent(admin: AdminClient, name: str) -> str:
    """Why a topic is not in the metadata: not there, or (with an authorizer) not ours to see."""
    try:
        error = admin.list_topics(name, timeout=10).topics[name].error
    except (KafkaException, KeyError):
        error = None
    if error is not None and error.name() == "TOPIC_AUTHORIZATION_FAILED":
        return "not authorized to describe it: this principal lacks its ACLs (see `conveyor kafka acls`)"
    return "missing: run `conveyor topics create`"


def verify_topics(settings: KafkaSettings, specs: Iterable[TopicSpec] = SPECS, timeout: float | None = None) -> None:
    """Wait up to `timeout` (default `settings.topics_timeout`) for missing topics, then raise
    `FatalKafkaError` listing every problem; log the warnings."""
    specs = list(specs)
    timeout = settings.topics_timeout if timeout is None else timeout
    admin = connect(settings)
    deadline = time.monotonic() + timeout
    waiting_logged = False
    while True:
        reports = inspect_topics(settings, admin, specs)
        missing = [r.name for r in reports if r.partitions is None]
        if not missing or time.monotonic() >= deadline:
            break
        if not waiting_logged:
            log.info("waiting up to %.0fs for topics %s (`conveyor topics create`)", timeout, ", ".join(missing))
            waiting_logged = True
        time.sleep(1.0)
    for report in reports:
        for warning in report.warnings:
            log.warning("topic %s: %s", report.name, warning)
    problems = [f"{r.name}: {problem}" for r in reports for problem in r.problems]
    if problems:
        raise FatalKafkaError(
            f"topics on {settings.bootstrap} are not as Conveyor needs them:\n  " + "\n  ".join(problems)
        )


def _cleanup_policies(admin: AdminClient, names: list[str], timeout: float = CONFIG_TIMEOUT) -> dict[str, str]:
    """Each topic's `cleanup.policy`. A cluster that cannot answer yet (a controller still being elected, a
    broker just restarted: "Timed out waiting for controller") is asked again for up to `timeout` seconds."""
    if not names:
        return {}
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _describe_cleanup(admin, names)
        except KafkaException as exc:
            error = exc.args[0]
            if not (error.retriable() or error.name() in _TRANSIENT) or time.monotonic() >= deadline:
                raise FatalKafkaError(f"cannot read the configuration of topic {exc.args[1]}: {error}") from exc
            log.info("Kafka cannot describe the topics yet (%s); asking again", error.str())
            time.sleep(1.0)


def _describe_cleanup(admin: AdminClient, names: list[str]) -> dict[str, str]:
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
    out = {}
    with kafka_errors("describe topics"):
        futures = admin.describe_configs(resources, request_timeout=30)
    for resource, future in futures.items():
        try:
            entries = future.result()
        except KafkaException as exc:
            raise KafkaException(exc.args[0], resource.name) from exc
        out[resource.name] = str(entries["cleanup.policy"].value)
    return out
