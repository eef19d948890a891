"""The consumer groups and transactional ids Conveyor's clients use, named once: the clients build their ids
from these, and the least-privilege ACLs (`acls.py`) allow exactly these.

A name ending in `-` is a prefix: each process adds a random suffix (its ACL is a prefixed one).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Name:
    base: str
    under_prefix: bool = True  # under the topic prefix (`CONVEYOR_KAFKA_TOPIC_PREFIX`), else as it is

    @property
    def prefixed(self) -> bool:
        return self.base.endswith("-")

    def full(self, topic_prefix: str) -> str:
        """The name (a prefix's common part, for an ACL) under this topic prefix."""
        return f"{topic_prefix}{self.base}" if self.under_prefix else self.base

    def id(self, topic_prefix: str, suffix: str = "") -> str:
        """A client's id: the name, and for a prefix a suffix of its own."""
        if self.prefixed != bool(suffix):
            raise ValueError(f"{self.base}: a prefixed name takes a suffix, a literal one none")
        return self.full(topic_prefix) + suffix


# consumer groups
EXECUTOR = Name("executor")
WORKER = Name("worker")
INDEXER = Name("indexer")
SCHEDULER = Name("scheduler")
SLOT_KEEPER = Name("slot-keeper")  # the executor's slot keeper (flow concurrency): concurrency-requests
FLOW_TRIGGERS = Name("flow-triggers")  # the scheduler's Flow-trigger loop: ended executions
TABLE_READER = Name("table-reader")  # TopicTable (the API's flows): assigned, never joined
TAIL = Name("tail-")  # tail_consumer: kills, worker heartbeats; no group joined
STATE_READER = Name("conveyor-state-reader", under_prefix=False)  # read_partitions_to_end: state, look-ups
LOOKUP = Name("conveyor-lookup", under_prefix=False)  # lookup.partition_count
FOLLOW = Name("conveyor-follow-", under_prefix=False)  # Follower: `conveyor run`, `kill --wait`, the API
READER = Name("conveyor-reader-", under_prefix=False)  # ExecutionReader: tools and tests

# transactional ids
EXECUTOR_TRANSACTIONS = Name("executor-")  # one per executor process
SLOT_KEEPER_TRANSACTIONS = Name("slot-keeper-")  # one per executor process (its slot keeper)
SCHEDULER_TRANSACTIONS = Name("scheduler-")  # one per scheduler process
FLOW_TRIGGER_TRANSACTIONS = Name("flow-triggers-")  # one per scheduler process (its Flow-trigger loop)
