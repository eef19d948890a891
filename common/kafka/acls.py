"""Least-privilege Kafka ACLs: what each principal may do, derived from the topics it reads and writes.

`ACCESS` is the one source of truth: one line per principal (a service, the CLI's users, the topics Job)
naming the topics it reads and writes (the names of `topics.py`), the consumer groups it uses and its
transactional ids. `bindings` turns it into ACLs under a topic prefix:
- Read + Describe on each topic it reads, Write + Describe on each it writes, DescribeConfigs on each of
  them (a starting service checks their cleanup policy, `verify.py`);
- Read on its consumer groups (`names.py`: a name ending in `-` is a prefixed ACL, one group per process);
- Write + Describe on its transactional ids (prefixed), IdempotentWrite on the cluster when it produces
  (every producer is idempotent);
- Create on the prefix for the topics Job only. No one gets Alter, Delete, AlterConfigs or All.
`conveyor kafka acls` prints them and applies them (`acl_admin.py`); docs/operations.md shows the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from conveyor.common.kafka import names
from conveyor.common.kafka.names import Name
from conveyor.common.kafka.topics import (
    AUDIT,
    AUTH_TOKENS,
    CONCURRENCY_REQUESTS,
    CONCURRENCY_STATE,
    CONTROL,
    DEAD_LETTER,
    EXECUTION_EVENTS,
    EXECUTIONS,
    EXECUTOR_STATE,
    FLOW_REVISIONS,
    FLOWS,
    KILLS,
    KV,
    LOGS,
    METRICS,
    SPECS,
    TASKRUNS,
    TRIGGER_CONTROL,
    TRIGGER_STATE,
    WORKER_HEARTBEATS,
    WORKER_JOBS,
    TopicSpec,
)


@dataclass(frozen=True)
class Access:
    """What one principal does: the topics (names of `topics.py`) it reads and writes, the consumer groups
    and transactional ids (`names.py`) it uses."""

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    groups: tuple[Name, ...] = ()
    transactional_ids: tuple[Name, ...] = ()
    creates_topics: bool = False  # `conveyor topics create`: Create, Describe, DescribeConfigs on the prefix


# Adding a service or a topic is one line here (the topic itself in `topics.py`).
ACCESS: dict[str, Access] = {
    "executor": Access(
        reads=(
            EXECUTION_EVENTS,
            CONTROL,
            EXECUTOR_STATE,
            WORKER_HEARTBEATS,
            FLOWS,
            FLOW_REVISIONS,
            CONCURRENCY_REQUESTS,
            CONCURRENCY_STATE,
            KV,
        ),
        writes=(
            EXECUTIONS,
            TASKRUNS,
            EXECUTOR_STATE,
            WORKER_JOBS,
            KILLS,
            LOGS,
            EXECUTION_EVENTS,
            CONTROL,
            DEAD_LETTER,
            CONCURRENCY_REQUESTS,
            CONCURRENCY_STATE,
        ),
        groups=(names.EXECUTOR, names.SLOT_KEEPER, names.TAIL, names.STATE_READER, names.TABLE_READER),
        transactional_ids=(names.EXECUTOR_TRANSACTIONS, names.SLOT_KEEPER_TRANSACTIONS),
    ),
    "worker": Access(
        # EXECUTIONS, TASKRUNS, CONTROL: a Subflow's restart of its failed child (`worker.children`)
        reads=(WORKER_JOBS, KILLS, KV, EXECUTIONS, TASKRUNS),
        writes=(EXECUTION_EVENTS, LOGS, METRICS, WORKER_HEARTBEATS, DEAD_LETTER, KV, CONTROL),
        groups=(names.WORKER, names.TAIL, names.TABLE_READER, names.LOOKUP, names.STATE_READER),
    ),
    "indexer": Access(
        reads=(EXECUTIONS, TASKRUNS, LOGS, METRICS, AUDIT), writes=(DEAD_LETTER,), groups=(names.INDEXER,)
    ),
    "scheduler": Access(
        reads=(TRIGGER_CONTROL, TRIGGER_STATE, FLOWS, EXECUTIONS),
        writes=(EXECUTION_EVENTS, TRIGGER_STATE, TRIGGER_CONTROL, DEAD_LETTER),
        groups=(names.SCHEDULER, names.FLOW_TRIGGERS, names.TABLE_READER, names.STATE_READER),
        transactional_ids=(names.SCHEDULER_TRANSACTIONS, names.FLOW_TRIGGER_TRANSACTIONS),
    ),
    "server": Access(
        reads=(FLOWS, FLOW_REVISIONS, EXECUTIONS, TASKRUNS, LOGS, AUTH_TOKENS, TRIGGER_STATE, KV),
        # EXECUTIONS, TASKRUNS: a deletion's tombstones (`common.deletion`)
        writes=(
            FLOWS,
            FLOW_REVISIONS,
            EXECUTION_EVENTS,
            CONTROL,
            AUDIT,
            AUTH_TOKENS,
            TRIGGER_CONTROL,
            KV,
            EXECUTIONS,
            TASKRUNS,
        ),
        groups=(names.TABLE_READER, names.STATE_READER, names.LOOKUP, names.FOLLOW),
    ),
    "cli": Access(
        reads=(EXECUTIONS, TASKRUNS, LOGS, FLOWS, FLOW_REVISIONS, TRIGGER_STATE, KV),
        writes=(EXECUTION_EVENTS, CONTROL, TRIGGER_CONTROL, FLOWS, FLOW_REVISIONS, KV, EXECUTIONS, TASKRUNS),
        groups=(names.STATE_READER, names.LOOKUP, names.FOLLOW, names.READER, names.TABLE_READER),
    ),
    "topics": Access(creates_topics=True),
}


def topic_specs(service: str) -> list[TopicSpec]:
    """The topics `service` reads or writes: those it checks at start-up (it may describe no other)."""
    access = ACCESS[service]
    used = {*access.reads, *access.writes}
    return [spec for spec in SPECS if spec.name in used]


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW binding, in Kafka's names: resource TOPIC, GROUP, TRANSACTIONAL_ID or CLUSTER; pattern
    LITERAL or PREFIXED; operation READ, WRITE, DESCRIBE, DESCRIBE_CONFIGS, CREATE or IDEMPOTENT_WRITE."""

    principal: str
    resource: str
    name: str
    pattern: str
    operation: str


def bindings(topic_prefix: str, principal_prefix: str = "User:", services: Iterable[str] | None = None) -> list[Acl]:
    """Every ACL of the named principals (default: all of `ACCESS`), sorted, without duplicates.
    Principal of service `s`: `principal_prefix + s`, e.g. `User:worker`."""
    names = list(ACCESS) if services is None else list(services)
    unknown = [name for name in names if name not in ACCESS]
    if unknown:
        raise ValueError(f"unknown services {', '.join(unknown)}: choose among {', '.join(ACCESS)}")
    found: set[Acl] = set()
    for name in names:
        found.update(_of(f"{principal_prefix}{name}", ACCESS[name], topic_prefix))
    return sorted(found)


def _of(principal: str, access: Access, prefix: str) -> Iterable[Acl]:
    for topic in access.reads:
        yield from _topic(principal, prefix + topic, "READ")
    for topic in access.writes:
        yield from _topic(principal, prefix + topic, "WRITE")
    for group in access.groups:
        yield _named(principal, "GROUP", group, prefix, "READ")
    for txn in access.transactional_ids:
        for operation in ("WRITE", "DESCRIBE"):
            yield _named(principal, "TRANSACTIONAL_ID", txn, prefix, operation)
    if access.writes:
        yield Acl(principal, "CLUSTER", "kafka-cluster", "LITERAL", "IDEMPOTENT_WRITE")
    if access.creates_topics:  # without a prefix: every topic (Kafka has no empty prefixed ACL)
        name, pattern = (prefix, "PREFIXED") if prefix else ("*", "LITERAL")
        for operation in ("CREATE", "DESCRIBE", "DESCRIBE_CONFIGS"):
            yield Acl(principal, "TOPIC", name, pattern, operation)


def _topic(principal: str, name: str, operation: str) -> Iterable[Acl]:
    for op in (operation, "DESCRIBE", "DESCRIBE_CONFIGS"):
        yield Acl(principal, "TOPIC", name, "LITERAL", op)


def _named(principal: str, resource: str, name: Name, prefix: str, operation: str) -> Acl:
    return Acl(principal, resource, name.full(prefix), "PREFIXED" if name.prefixed else "LITERAL", operation)
