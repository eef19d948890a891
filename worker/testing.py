"""Helpers for testing runners without Kafka (Conveyor's tests, and plugin packages testing their own).

ctx, logs = run_context({"id": "hello", "type": "io.kestra.plugin.core.log.Log", "message": "hi"})
outcome = LogRunner().run(task, ctx)
"""

from __future__ import annotations

from typing import Any

from conveyor.common.clock import utcnow
from conveyor.common.events import LogEntry, WorkerJob
from conveyor.common.ids import new_id
from conveyor.common.model import TaskRun
from conveyor.common.state import State
from conveyor.worker.runners.base import RunContext


def make_job(task: dict[str, Any], context: dict[str, Any] | None = None, attempt: int = 1) -> WorkerJob:
    """A worker job for `task` (a task definition as JSON) in a fresh execution."""
    task_run = TaskRun(
        id=new_id(),
        execution_id=new_id(),
        namespace="company.team",
        flow_id="test",
        task_id=str(task.get("id", "task")),
        state=State.new(utcnow()),
    )
    return WorkerJob(task_run=task_run, attempt=attempt, task=task, context=context or {})


def run_context(task: dict[str, Any], context: dict[str, Any] | None = None) -> tuple[RunContext, list[LogEntry]]:
    """A RunContext for `task` whose log lines are collected in the returned list."""
    logs: list[LogEntry] = []
    return RunContext(make_job(task, context), worker_id="test-worker", emit=logs.append), logs
