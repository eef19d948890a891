"""Retry with `behavior: CREATE_NEW_EXECUTION`: a failed execution is retried as a new execution.

When an execution would end FAILED and one of its failed runnable task runs (or ForEachItem failed in its
split or merge job) has a retry policy (its own,
an ancestor flowable's, or the flow's) with this behavior, and the policy's limits allow another try, the
execution goes RETRYING and waits for the policy's delay (a timer in the executor state). When the timer
fires it ends RETRIED and the decision carries the `ExecutionCreated` of the next execution of the same
flow: same inputs and labels, `metadata.attemptNumber` one more, `originalId` the first execution's id.
`maxAttempt` counts executions; `maxDuration` runs from the first execution's creation.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from conveyor.common.events import ExecutionCreated
from conveyor.common.flow import Flow
from conveyor.common.launch import new_execution
from conveyor.common.model import Execution, ExecutionMetadata, TaskRun
from conveyor.common.retry import Retry, RetryBehavior
from conveyor.common.state import StateType
from conveyor.common.tasks.base import FlowableTask, LogLevel
from conveyor.common.tasks.subflow import ForEachItem

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType
# The purpose of the timer that ends a RETRYING execution and creates the next one.
NEW_EXECUTION = "new-execution"


def policy(d: Rules) -> Retry | None:
    """The CREATE_NEW_EXECUTION policy of the first failed runnable task run that has one."""
    for run in d.state.in_order():  # once, when the execution would end FAILED
        if run.state.current != S.FAILED:
            continue
        task = d.flow_task(run.task_id)
        if task is None or (isinstance(task, FlowableTask) and not _failed_job(task, run)):
            continue
        found = d.retry_policy(task)
        if found is not None and found.behavior == RetryBehavior.CREATE_NEW_EXECUTION:
            return found
    return None


def _failed_job(task: FlowableTask, run: TaskRun) -> bool:
    """A ForEachItem that failed in its split or merge job: those are the reference's runnable subtasks,
    retried as runnable tasks are (a failed child is not)."""
    last = run.attempts[-1] if run.attempts else None
    if not isinstance(task, ForEachItem) or last is None:
        return False
    return last.worker_id is not None and last.state.current.failed


def schedule(d: Rules) -> bool:
    """Called when the execution would end FAILED: move it to RETRYING with a timer if a new execution is due."""
    found = policy(d)
    if found is None:
        return False
    metadata = d.execution.metadata
    first = metadata.original_created_date or d.execution.state.start_date or d.now
    delay = found.next_delay(metadata.attempt_number, d.rand, d.now, first)
    if delay is None:
        return False
    d.set_execution_state(S.RETRYING)
    d.cancel_timers()
    d.start_timer(d.now + delay, NEW_EXECUTION)
    d.log(None, LogLevel.INFO, f"execution failed: a new execution starts at {(d.now + delay).isoformat()}")
    return True


def retried(d: Rules) -> None:
    """The timer fired: the execution ends RETRIED and the next one is created."""
    d.set_execution_state(S.RETRIED)
    d.cancel_timers()
    created = next_execution(d.execution, d.flow, d.now, d.new_id(), d.new_id())
    d.create_execution(created)
    d.log(None, LogLevel.INFO, f"execution retried as {created.execution_id}")


def next_execution(
    execution: Execution, flow: Flow, now: datetime, execution_id: str, event_id: str
) -> ExecutionCreated:
    labels = {label.key: label.value for label in execution.labels}
    created = new_execution(
        flow, execution.inputs, labels=labels, now=now, typed=False, execution_id=execution_id, event_id=event_id
    )
    created.execution.original_id = execution.original_id or execution.id
    if execution.trigger is not None and "taskRunId" in execution.trigger.variables:
        created.execution.trigger = execution.trigger  # a subflow's child: its parent waits for the new one
        created.execution.labels = execution.labels
    created.execution.metadata = ExecutionMetadata(
        attempt_number=execution.metadata.attempt_number + 1,
        original_created_date=execution.metadata.original_created_date or execution.state.start_date,
    )
    return created
