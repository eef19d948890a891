"""Restarting a FAILED or KILLED execution (`conveyor restart`), as a rule of the pure core.

The execution goes RESTARTED then RUNNING. Every failed or killed task run whose failure made the execution
fail goes RESTARTED: a runnable one gets a new attempt at once (its old attempts are kept), a flowable one is
stepped again, so its own failed children restart and its unstarted children start; a WorkingDirectory gets a
new attempt of its whole group (its worker runs all its tasks and `finally` tasks again, in a fresh directory;
the task runs of the earlier attempt are kept, the new ones are added). Task runs that ended
well are kept as they are, and so are the runs of `errors` branches (they ran for the old failure). A failed
run under a parent that tolerated it (`allowFailure`, so the parent is WARNING or SUCCESS) is not restarted.

Where the execution comes from: the executor drops an execution's working state when it ends (a tombstone
on `executor-state`), so a restart brings it back. The executor writes the pinned flow definition into the
final snapshot on the compacted `executions` topic (header `conveyor.flow`); `conveyor restart` reads that
snapshot and sends it with the flow inside `RestartRequested`; the shell rebuilds the state from them.
Retry limits (`maxAttempt`, `maxDuration`) keep counting every attempt of a task run, old ones included.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from conveyor.common.flow import Flow
from conveyor.common.model import Execution, TaskRun
from conveyor.common.state import RESTARTABLE, StateType
from conveyor.common.tasks.base import FlowableTask, LogLevel, Task
from conveyor.common.tasks.flowable import WorkingDirectory
from conveyor.common.tasks.subflow import ForEachItem, Subflow
from conveyor.executor import items, subflows
from conveyor.executor.state import ExecutionState

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType


def refusal(execution: Execution) -> str | None:
    """Why the execution cannot be restarted, None when it can (a replay: a new execution, RESTARTED)."""
    if execution.state.current in RESTARTABLE or is_replay(execution):
        return None
    return (
        f"execution {execution.id} is {execution.state.current.value}: "
        "only a FAILED or KILLED execution can be restarted"
    )


def restart(d: Rules) -> None:
    reason = refusal(d.execution)
    if reason is None and d.state.after:
        reason = f"execution {d.execution.id} is still running its afterExecution tasks"
    if reason is not None:
        d.log(None, LogLevel.WARN, f"restart refused: {reason}")
        return
    if is_replay(d.execution):
        replay(d)
        return
    d.set_execution_state(S.RESTARTED)
    run_again(d)


def run_again(d: Rules, when: datetime | None = None) -> None:
    """The RESTARTED execution goes RUNNING (at `when`, by default now) and its failed task runs run again: at
    once, or once its flow's concurrency slot is granted (`executor.concurrency`)."""
    runs = runs_to_restart(d.state, d.flow)
    d.set_execution_state(S.RUNNING, when)
    d.set_execution_outputs(None)
    for run in runs:  # creation order: a parent before its children
        d.set_state(run, S.RESTARTED)
        task = d.task(run.task_id)
        if isinstance(task, ForEachItem):
            items.restarted(d, task, run)
        elif isinstance(task, Subflow):
            subflows.restarted(d, task, run)
        elif isinstance(task, WorkingDirectory) or not isinstance(task, FlowableTask):
            d.dispatch(run, task)  # a WorkingDirectory: the whole group again, in a fresh directory
    d.log(None, LogLevel.INFO, f"execution restarted: {len(runs)} task run(s) run again")


def is_replay(execution: Execution) -> bool:
    """A replay (`conveyor replay`): a new execution, RESTARTED, made from the ended one `originalId` names."""
    return execution.state.current == S.RESTARTED and execution.original_id is not None


def replay(d: Rules, when: datetime | None = None) -> None:
    """Start a replay: the task runs kept from the original are in the state as they ended, the parents of
    the chosen task run RESTARTED (stepped again); the chosen one and what followed it were left out, so the
    flow runs them again from there."""
    d.set_execution_state(S.RUNNING, when)
    for run in d.state.in_order():  # the copies are new task runs: published once (linear, once per replay)
        d.touch(run)
    d.log(
        None,
        LogLevel.INFO,
        f"replay of execution {d.execution.original_id}: {len(d.state.runs)} task run(s) kept from it",
    )


def runs_to_restart(state: ExecutionState, flow: Flow) -> list[TaskRun]:
    """The FAILED or KILLED task runs, outside `errors` branches, whose every ancestor failed too."""
    in_errors = _error_branch_task_ids(flow)
    known = {task.id for task in flow.all_tasks()}
    # A WorkingDirectory's tasks (and `finally` tasks) restart with their group, never alone.
    grouped = {t.id for g in flow.all_tasks() if isinstance(g, WorkingDirectory) for t in [*g.tasks, *g.finally_]}
    chosen = []
    for run in state.in_order():
        if run.state.current not in RESTARTABLE or run.task_id in in_errors or run.task_id not in known:
            continue
        if run.task_id in grouped:
            continue
        if all(parent.state.current in RESTARTABLE for parent in state.ancestors(run)):
            chosen.append(run)
    return chosen


def _error_branch_task_ids(flow: Flow) -> set[str]:
    ids: set[str] = set()

    def walk(tasks: list[Task], inside: bool) -> None:
        for task in tasks:
            if inside:
                ids.add(task.id)
            if isinstance(task, FlowableTask):
                for children in task.child_lists():
                    walk(children, inside)
                walk(task.error_tasks(), True)
                walk(task.finally_tasks(), inside)

    walk(flow.tasks, False)
    walk(flow.errors, True)
    return ids
