"""Conveyor's topics (docs/architecture.md), their names under a prefix, and creating them."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.common.settings import KafkaSettings

EXECUTION_EVENTS = "execution-events"
# Kill and restart requests: read by the executor before the events of its partitions, so that control
# never waits behind a backlog of task results (same partition count and key as execution-events).
CONTROL = "execution-control"
EXECUTOR_STATE = "executor-state"
EXECUTIONS = "executions"
TASKRUNS = "taskruns"
WORKER_JOBS = "worker-jobs"
KILLS = "kills"
WORKER_HEARTBEATS = "worker-heartbeats"
LOGS = "logs"
METRICS = "metrics"
FLOWS = "flows"
# Every revision of every flow (key `namespace/id/revision`), for `GET /flows/{ns}/{id}?revision=`.
FLOW_REVISIONS = "flow-revisions"
DEAD_LETTER = "dead-letter"
# The scheduler's compacted trigger state, and the requests that change it (both partitioned by flow key).
TRIGGER_STATE = "trigger-state"
TRIGGER_CONTROL = "trigger-control"
# Who did what through the API, and who was refused (`common/audit.py`).
AUDIT = "audit"
# API tokens (their SHA-256, never the token), by id; every server reads it into memory (`api/tokens.py`).
AUTH_TOKENS = "auth-tokens"
# The KV store: `namespace/key` -> `KvEntry` (`common/kv.py`), tombstones for deleted keys.
KV = "kv"
# Flow concurrency (`common/concurrency.py`): slot requests and releases by flow key, and the slot keeper's
# compacted table of the executions holding a slot or queued (key `flow/executionId`), partitioned alike.
CONCURRENCY_REQUESTS = "concurrency-requests"
CONCURRENCY_STATE = "concurrency-state"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compact: bool
    # Kill signals go to every worker and carry no ordering need: one partition is plenty.
    single_partition: bool = False


SPECS = (
    TopicSpec(EXECUTION_EVENTS, compact=False),
    TopicSpec(CONTROL, compact=False),
    TopicSpec(EXECUTOR_STATE, compact=True),
    TopicSpec(EXECUTIONS, compact=True),
    TopicSpec(TASKRUNS, compact=True),
    TopicSpec(WORKER_JOBS, compact=False),
    TopicSpec(KILLS, compact=False, single_partition=True),
    TopicSpec(WORKER_HEARTBEATS, compact=True),
    TopicSpec(LOGS, compact=False),
    TopicSpec(METRICS, compact=False),
    TopicSpec(FLOWS, compact=True),
    TopicSpec(FLOW_REVISIONS, compact=True),
    TopicSpec(DEAD_LETTER, compact=False),
    TopicSpec(TRIGGER_STATE, compact=True),
    TopicSpec(TRIGGER_CONTROL, compact=False),
    TopicSpec(AUDIT, compact=False),
    TopicSpec(AUTH_TOKENS, compact=True, single_partition=True),
    TopicSpec(KV, compact=True),
    TopicSpec(CONCURRENCY_REQUESTS, compact=False),
    TopicSpec(CONCURRENCY_STATE, compact=True),
)


class Topics:
    """Full topic names for one prefix: `Topics(settings).worker_jobs` -> `conveyor.worker-jobs`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def execution_events(self) -> str:
        return self.name(EXECUTION_EVENTS)

    @property
    def control(self) -> str:
        return self.name(CONTROL)

    @property
    def executor_state(self) -> str:
        return self.name(EXECUTOR_STATE)

    @property
    def executions(self) -> str:
        return self.name(EXECUTIONS)

    @property
    def taskruns(self) -> str:
        return self.name(TASKRUNS)

    @property
    def worker_jobs(self) -> str:
        return self.name(WORKER_JOBS)

    @property
    def kills(self) -> str:
        return self.name(KILLS)

    @property
    def worker_heartbeats(self) -> str:
        return self.name(WORKER_HEARTBEATS)

    @property
    def logs(self) -> str:
        return self.name(LOGS)

    @property
    def metrics(self) -> str:
        return self.name(METRICS)

    @property
    def flows(self) -> str:
        return self.name(FLOWS)

    @property
    def flow_revisions(self) -> str:
        return self.name(FLOW_REVISIONS)

    @property
    def dead_letter(self) -> str:
        return self.name(DEAD_LETTER)

    @property
    def trigger_state(self) -> str:
        return self.name(TRIGGER_STATE)

    @property
    def trigger_control(self) -> str:
        return self.name(TRIGGER_CONTROL)

    @property
    def audit(self) -> str:
        return self.name(AUDIT)

    @property
    def auth_tokens(self) -> str:
        return self.name(AUTH_TOKENS)

    @property
    def kv(self) -> str:
        return self.name(KV)

    @property
    def concurrency_requests(self) -> str:
        return self.name(CONCURRENCY_REQUESTS)

    @property
    def concurrency_state(self) -> str:
        return self.name(CONCURRENCY_STATE)

    @classmethod
    def of(cls, settings: KafkaSettings) -> Topics:
        return cls(settings.topic_prefix)
