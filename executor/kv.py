"""The KV store as the executor reads it: `kv()` in a flowable's properties (ForEach `values`, If `condition`,
Switch `value`, LoopUntil `condition`, Subflow `inputs`, runIf, flow outputs).

The `kv` topic is held in memory as a table (`TopicTable`), like on workers and the API. A look-up must see
every value written before the event being decided was produced (a `kv.Set` task just before a ForEach:
the worker flushes the value before it reports the task run), so the table is caught up after the events
were fetched — but at most once per fetch and partition: `next_batch()` (called after each fetch of events)
marks the table stale, and the first look-up after it into a key's partition catches that partition up
(one watermark query, then the records new since the last one). Other look-ups until the next fetch read
memory. A batch that renders no `kv()` costs nothing; a look-up costs the same whatever the execution's size.

A key's partition is the default partitioner's (`crc32(key) % partitions`), which every Conveyor producer
uses; a key not found there is looked for once more after catching up every partition (a topic written by
another partitioner, or partitions added). A Kafka hiccup while catching up raises `RetryableKafkaError`,
which the executor turns into a rollback of the batch (tried again), never into a failed task run.
"""

from __future__ import annotations

from conveyor.common.kafka.lookup import default_partition
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.kv import KvEntry, check_key, parse_entry, record_key
from conveyor.common.settings import KafkaSettings


class KvTable:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._table = TopicTable(kafka, Topics.of(kafka).kv)
        self._partitions = 0  # unknown until the first look-up
        self._fresh: set[int] = set()  # partitions caught up during this batch
        self.catch_ups = 0  # partition catch-ups done (a measure for tests and benchmarks)

    def next_batch(self) -> None:
        """A new batch was fetched: what the table holds may be older than its events."""
        self._fresh.clear()

    def get(self, namespace: str, key: str) -> KvEntry | None:
        check_key(namespace, key)
        name = record_key(namespace, key)
        if not self._partitions:
            self._partitions = self._table.partition_count()
        partition = default_partition(name, self._partitions)
        raw = self._read(name, {partition})
        if raw is None and len(self._fresh) < self._partitions:
            raw = self._read(name, set(range(self._partitions)))
        entry = parse_entry(raw, self._table.topic)
        return None if entry is None or entry.expired() else entry

    def _read(self, name: str, partitions: set[int]) -> bytes | None:
        stale = partitions - self._fresh
        if not stale:
            return self._table.cached(name)
        raw = self._table.get(name, stale.pop() if len(stale) == 1 else None)
        self._fresh |= partitions
        self.catch_ups += 1
        return raw

    def close(self) -> None:
        self._table.close()
