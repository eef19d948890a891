"""Creating Conveyor's topics with the partitions, replication and cleanup policies of docs/architecture.md; checking
them is `verify.py`'s."""

from __future__ import annotations

import logging
import time

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from conveyor.common.kafka.errors import FatalKafkaError, kafka_errors
from conveyor.common.kafka.replication import replication_for
from conveyor.common.kafka.topics import SPECS, Topics
from conveyor.common.kafka.verify import connect, verify_topics
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)


def admin_client(settings: KafkaSettings) -> AdminClient:
    with kafka_errors("create an admin client"):
        return AdminClient(settings.client_config())


def ensure_topics(settings: KafkaSettings, timeout: float = 30.0) -> list[str]:
    """Create every missing topic of docs/architecture.md under the settings' prefix; returns those it created."""
    admin = connect(settings, timeout)
    topics = Topics.of(settings)
    with kafka_errors("list topics"):
        metadata = admin.list_topics(timeout=timeout)
    existing = set(metadata.topics)
    replication = replication_for(settings, len(metadata.brokers))
    new = []
    for spec in SPECS:
        name = topics.name(spec.name)
        if name in existing:
            continue
        config = {
            "cleanup.policy": "compact" if spec.compact else "delete",
            "min.insync.replicas": str(replication.min_insync),
        }
        if spec.compact:
            config["min.cleanable.dirty.ratio"] = "0.1"
            config["segment.ms"] = str(10 * 60 * 1000)
        partitions = 1 if spec.single_partition else settings.partitions
        new.append(NewTopic(name, num_partitions=partitions, replication_factor=replication.factor, config=config))
    if not new:
        return []
    created = []
    with kafka_errors("create topics"):
        futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except Exception as exc:  # already created by a concurrent caller is fine
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise FatalKafkaError(f"cannot create topic {name}: {exc}") from exc
    log.info(
        "created topics %s (replication factor %d, min.insync.replicas %d)",
        ", ".join(created),
        replication.factor,
        replication.min_insync,
    )
    _wait_for_leaders(admin, created, timeout)
    return created


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout: float) -> None:
    """New topics answer with NOT_LEADER for a moment: wait until every partition has a leader."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with kafka_errors("list topics"):
            topics = admin.list_topics(timeout=timeout).topics
        if all(
            n in topics and topics[n].partitions and all(p.leader >= 0 for p in topics[n].partitions.values())
            for n in names
        ):
            return
        time.sleep(0.1)
    raise FatalKafkaError(f"topics {', '.join(names)} have no leader after {timeout:.0f}s")


def wait_for_topics(settings: KafkaSettings, names: list[str], timeout: float | None = None) -> None:
    """Verify the named topics of docs/architecture.md (see `verify.verify_topics`): wait for missing ones, then
    raise `FatalKafkaError` naming what is wrong."""
    topics = Topics.of(settings)
    verify_topics(settings, [spec for spec in SPECS if topics.name(spec.name) in names], timeout)
