"""Retry with `behavior: CREATE_NEW_EXECUTION`: a failed execution is retried as a new execution.

When an execution would end FAILED and one of its failed runnable task runs has a retry policy (its own,
an ancestor flowable's, or the flow's) with this behavior, and the policy's limits allow another try, the
execution goes RETRYING and waits for the policy's delay (a timer in the executor state). When the timer
fires it ends RETRIED and the decision carries the `ExecutionCreated` of the next execution of the same
flow: same inputs and labels, `metadata.attemptNumber` one more, `originalId` the first execution's id.
`maxAttempt` counts executions; `maxDuration` runs from the first execution's creation.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from conveyor.common.events import ExecutionCreated, Timer
from conveyor.common.flow import Flow
from conveyor.common.ids import new_id
from conveyor.common.launch import new_execution
from conveyor.common.model import Execution, ExecutionMetadata
from conveyor.common.retry import Retry, RetryBehavior
from conveyor.common.state import StateType
from conveyor.common.tasks.base import FlowableTask, LogLevel

if TYPE_CHECKING:
    from conveyor.executor.decide import _Decider

S = StateType
# The purpose of the timer that ends a RETRYING execution and creates the next one.
NEW_EXECUTION = "new-execution"


def policy(d: _Decider) -> Retry | None:
    """The CREATE_NEW_EXECUTION policy of the first failed runnable task run that has one."""
    for run in d.ex.task_run_list:
        if run.state.current != S.FAILED:
            continue
        task = d.tasks.get(run.task_id)
        if task is None or isinstance(task, FlowableTask):
            continue
        found: Retry | None = task.retry or d._inherited_retry(task)
        if found is not None and found.behavior == RetryBehavior.CREATE_NEW_EXECUTION:
            return found
    return None


def schedule(d: _Decider) -> bool:
    """Called when the execution would end FAILED: move it to RETRYING with a timer if a new execution is due."""
    found = policy(d)
    if found is None:
        return False
    metadata = d.ex.metadata
    delay = found.delay(metadata.attempt_number)
    first = metadata.original_created_date or d.ex.state.start_date or d.now
    if found.max_attempt is not None and metadata.attempt_number >= found.max_attempt:
        return False
    if found.max_duration is not None and d.now + delay - first > found.max_duration:
        return False
    d.ex.state = d.ex.state.to(S.RETRYING, d.now)
    d.timers = [Timer(id=new_id(), due=d.now + delay, purpose=NEW_EXECUTION)]
    d.dirty = True
    d.log(None, LogLevel.INFO, f"execution failed: a new execution starts at {(d.now + delay).isoformat()}")
    return True


def retried(d: _Decider) -> None:
    """The timer fired: the execution ends RETRIED and the next one is created."""
    d.ex.state = d.ex.state.to(S.RETRIED, d.now)
    d.timers = []
    d.dirty = True
    created = next_execution(d.ex, d.flow, d.now)
    d.out.executions.append(created)
    d.log(None, LogLevel.INFO, f"execution retried as {created.execution_id}")


def next_execution(execution: Execution, flow: Flow, now: datetime) -> ExecutionCreated:
    labels = {label.key: label.value for label in execution.labels}
    created = new_execution(flow, execution.inputs, labels=labels, now=now, typed=False)
    created.execution.original_id = execution.original_id or execution.id
    created.execution.metadata = ExecutionMetadata(
        attempt_number=execution.metadata.attempt_number + 1,
        original_created_date=execution.metadata.original_created_date or execution.state.start_date,
    )
    return created
