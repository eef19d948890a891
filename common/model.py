"""Executions, task runs, attempts and metrics: the runtime records, in the reference's JSON shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from conveyor.common.base import Model
from conveyor.common.state import State


class MetricEntry(Model):
    """A `counter` or a `timer` (value in seconds) reported by one attempt."""

    type: Literal["counter", "timer"]
    name: str
    value: float
    tags: dict[str, str] = {}
    timestamp: datetime | None = None


class Attempt(Model):
    state: State
    worker_id: str | None = None
    metrics: list[MetricEntry] = []
    # Conveyor keeps the failure message on the attempt too (the reference only logs it).
    error: str | None = None


class TaskRun(Model):
    id: str
    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None
    attempts: list[Attempt] = []
    outputs: dict[str, Any] | None = None
    state: State

    @property
    def attempts_count(self) -> int:
        return len(self.attempts)


class Label(Model):
    key: str
    value: str


class ExecutionMetadata(Model):
    attempt_number: int = 1
    original_created_date: datetime | None = None


class ExecutionTrigger(Model):
    """Which trigger started an execution, and for which date: what `{{ trigger.* }}` shows.

    `date`, `next` and `previous` are a Schedule's slot and its neighbours (in the schedule's time zone);
    `variables` holds the rest of what the trigger passes (a Flow trigger's `executionId`, `namespace`,
    `flowId`, `state`, `outputs`; a Webhook's `body`, `headers`, `parameters`)."""

    id: str
    type: str
    date: datetime | None = None
    next: datetime | None = None
    previous: datetime | None = None
    variables: dict[str, Any] = {}

    @property
    def triggering_execution_id(self) -> str | None:
        """The execution that started this one: a Subflow's or ForEachItem's parent, or the execution whose
        end fired a Flow trigger (`variables.executionId`, what the reference indexes as its trigger
        execution id)."""
        found = self.variables.get("executionId")
        return found if isinstance(found, str) else None


class Execution(Model):
    id: str
    namespace: str
    flow_id: str
    flow_revision: int = 1
    state: State
    task_run_list: list[TaskRun] = []
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    labels: list[Label] = []
    parent_id: str | None = None
    original_id: str | None = None
    metadata: ExecutionMetadata = ExecutionMetadata()
    trigger: ExecutionTrigger | None = None
    # Rises by one with every change the executor publishes: the external version in Elasticsearch.
    revision: int = 0
    # How many task runs the execution has (the `executions` topic carries the execution without them).
    task_run_count: int = 0

    def task_run(self, task_run_id: str) -> TaskRun:
        for tr in self.task_run_list:
            if tr.id == task_run_id:
                return tr
        raise KeyError(task_run_id)
