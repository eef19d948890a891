"""The latest record of one key in a compacted topic (the CLI's `kill` and `restart` read an execution).

The key's partition is the one the producers chose: librdkafka's default `consistent_random` partitioner
puts a keyed record in `crc32(key) % partitions`. That partition is read from its beginning to its high
watermark (read_committed); if the key is not found there, every partition is read, so a topic written
by a producer with another partitioner still answers, only more slowly.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer as _Consumer

from conveyor.common.kafka import names
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.errors import FatalKafkaError, kafka_errors
from conveyor.common.settings import KafkaSettings


@dataclass(frozen=True)
class Record:
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int


def default_partition(key: str, partitions: int) -> int:
    """The partition librdkafka's default partitioner gives a non-empty key."""
    return zlib.crc32(key.encode()) % partitions


def partition_count(settings: KafkaSettings, topic: str, timeout: float = 10.0) -> int:
    with kafka_errors(f"describe {topic}"):
        consumer = _Consumer({**settings.client_config(), "group.id": names.LOOKUP.id(settings.topic_prefix)})
        try:
            metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        finally:
            consumer.close()
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise FatalKafkaError(f"topic {topic} does not exist on {settings.bootstrap}")
    return len(metadata.partitions)


def latest(settings: KafkaSettings, topic: str, key: str, *, everywhere: bool = True) -> Record | None:
    """The key's latest record, None when the key has none or its latest is a tombstone. `everywhere=False`
    reads only the default partition (for a key whose writers all use the default partitioner)."""
    count = partition_count(settings, topic)
    first = default_partition(key, count)
    found, seen = _scan(settings, topic, [first], key)
    if not seen and count > 1 and everywhere:
        found, _ = _scan(settings, topic, [p for p in range(count) if p != first], key)
    return found


def latest_many(settings: KafkaSettings, topic: str, keys: Iterable[str]) -> dict[str, Record | None]:
    """`latest` for many keys, each partition read once: their default partitions, then, for the keys not seen
    there, the other partitions."""
    count = partition_count(settings, topic)
    wanted = {key.encode(): key for key in keys}
    partitions = sorted({default_partition(key, count) for key in wanted.values()})
    found, seen = _scan_many(settings, topic, partitions, set(wanted))
    missing = set(wanted) - seen
    if missing and count > 1:
        others = [p for p in range(count) if p not in partitions]
        more, _ = _scan_many(settings, topic, others, missing)
        found.update(more)
    return {key: found.get(raw) for raw, key in wanted.items()}


def _scan_many(
    settings: KafkaSettings, topic: str, partitions: list[int], wanted: set[bytes]
) -> tuple[dict[bytes, Record | None], set[bytes]]:
    found: dict[bytes, Record | None] = {}
    seen: set[bytes] = set()
    if not partitions:
        return found, seen
    for msg in read_partitions_to_end(settings, [(topic, p) for p in partitions]):
        if msg.key not in wanted:
            continue
        seen.add(msg.key)
        headers = {name: data or b"" for name, data in msg.headers}
        found[msg.key] = None if msg.value is None else Record(msg.value, headers, msg.partition, msg.offset)
    return found, seen


def _scan(settings: KafkaSettings, topic: str, partitions: list[int], key: str) -> tuple[Record | None, bool]:
    wanted = key.encode()
    found: Record | None = None
    seen = False
    for msg in read_partitions_to_end(settings, [(topic, p) for p in partitions]):
        if msg.key != wanted:
            continue
        seen = True
        headers = {name: data or b"" for name, data in msg.headers}
        found = None if msg.value is None else Record(msg.value, headers, msg.partition, msg.offset)
    return found, seen


# The header each `taskruns` record carries: the id of the execution it belongs to.
EXECUTION_HEADER = "conveyor.execution"


def task_runs(settings: KafkaSettings, topic: str, execution_id: str) -> list[bytes]:
    """The latest record of each task run of one execution on the compacted `taskruns` topic: the executor
    writes them to the partition of the execution's events (`crc32(id) % partitions` of that topic), with the
    execution's id in a header, so one partition is read and filtered without decoding."""
    _, latest = _task_runs(settings, topic, execution_id)
    return [value for value in latest.values() if value is not None]


def task_runs_many(settings: KafkaSettings, topic: str, execution_ids: Iterable[str]) -> dict[str, list[bytes]]:
    """`task_runs` for many executions, each partition read once."""
    count = partition_count(settings, topic)
    wanted = {execution_id.encode(): execution_id for execution_id in execution_ids}
    partitions = sorted({default_partition(execution_id, count) for execution_id in wanted.values()})
    latest: dict[bytes, dict[bytes, bytes | None]] = {raw: {} for raw in wanted}
    if partitions:
        for msg in read_partitions_to_end(settings, [(topic, p) for p in partitions]):
            owner = next((data for name, data in msg.headers if name == EXECUTION_HEADER), None)
            if owner is not None and owner in latest:
                latest[owner][msg.key or b""] = msg.value
    return {key: [v for v in latest[raw].values() if v is not None] for raw, key in wanted.items()}


def task_run_keys(settings: KafkaSettings, topic: str, execution_id: str) -> tuple[int, list[bytes]]:
    """The partition of the execution's task runs on `taskruns` and the keys of those not deleted yet."""
    partition, latest = _task_runs(settings, topic, execution_id)
    return partition, [key for key, value in latest.items() if value is not None]


def _task_runs(settings: KafkaSettings, topic: str, execution_id: str) -> tuple[int, dict[bytes, bytes | None]]:
    partition = default_partition(execution_id, partition_count(settings, topic))
    wanted = execution_id.encode()
    latest: dict[bytes, bytes | None] = {}
    for msg in read_partitions_to_end(settings, [(topic, partition)]):
        if not any(name == EXECUTION_HEADER and data == wanted for name, data in msg.headers):
            continue
        latest[msg.key or b""] = msg.value
    return partition, latest
