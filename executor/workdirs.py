"""The WorkingDirectory rule: a group of runnable tasks that one worker runs in one directory.

The executor sends one worker job, the WorkingDirectory's own task run's (its task holds the children);
the worker runs the children one after another and reports each as a task run it created (`TaskResult`
with `taskId` and `parentTaskRunId`), which the executor adopts (`adopt`) and then treats as any task run's
report. When the group's attempt ends, the WorkingDirectory's state follows its children as a Sequential's
(its `errors` run after a failure, once the group's job ended); its `finally` tasks, which the worker ran in
the same directory after the tasks, count as a flowable's `finally` does: the worse state wins. The children
are never dispatched on their own: their attempts are not `active` (a lost worker resubmits the whole group,
as a new attempt of the WorkingDirectory), and they are not retried one by one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.common.events import TaskResult
from conveyor.common.model import Attempt, TaskRun
from conveyor.common.state import State, StateType
from conveyor.common.tasks.base import Task
from conveyor.common.tasks.flowable import WorkingDirectory
from conveyor.executor.state import worst

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType


def step(d: Rules, task: WorkingDirectory, run: TaskRun) -> StateType | None:
    if not run.attempts:
        if d.killing:
            return S.KILLED
        d.dispatch(run, task)  # the whole group, on one worker
        return None
    attempt = run.attempts[-1]
    if not attempt.state.terminal:
        return None
    state, failure = _children(d, task.tasks, run)
    after, after_failure = _children(d, task.finally_, run)
    if failure is None and after_failure is None and attempt.state.current in (S.FAILED, S.KILLED):
        failure = attempt.state.current  # the group failed outside its tasks (its directory, a lost worker)
    if failure is None:
        return worst(state, after_failure or after)
    if failure == S.FAILED and task.errors and not d.killing and d.step_list(task.errors, [], run, None) is None:
        return None
    return worst(failure, after_failure or after)


def _children(d: Rules, tasks: list[Task], run: TaskRun) -> tuple[StateType, StateType | None]:
    """The worst state of those of `tasks` that ran in the group, and the failure that stopped them (None:
    none)."""
    state = S.SUCCESS
    for child_task in tasks:
        child = None if child_task.disabled else d.state.find(run.id, child_task.id, None)
        if child is None:
            continue
        if not child.state.terminal:  # its worker ended the group without its final report
            d.kill_run(child)
        if child.state.current in (S.FAILED, S.KILLED):
            return state, child.state.current
        state = worst(state, child.state.current)
    return state, None


def in_group(d: Rules, run: TaskRun) -> bool:
    """Whether `run` is a task of a WorkingDirectory (run by the group's worker, never on its own)."""
    if run.parent_task_run_id is None or run.parent_task_run_id not in d.state.runs:
        return False
    parent = d.flow_task(d.state.runs[run.parent_task_run_id].task_id)
    return isinstance(parent, WorkingDirectory) and any(t.id == run.task_id for t in _members(parent))


def _members(group: WorkingDirectory) -> list[Task]:
    """The tasks the group's worker runs and reports: its tasks, then its `finally` tasks."""
    return [*group.tasks, *group.finally_]


def adopt(d: Rules, result: TaskResult) -> TaskRun | None:
    """The task run a WorkingDirectory's worker reports for one of its tasks, created on its first report;
    None when the report is not one (an unknown run, a group that is not running)."""
    if result.task_id is None or result.parent_task_run_id is None:
        return None
    parent = d.state.runs.get(result.parent_task_run_id)
    group = d.flow_task(parent.task_id) if parent is not None else None
    if parent is None or not isinstance(group, WorkingDirectory) or parent.state.terminal:
        return None
    if not any(t.id == result.task_id for t in _members(group)) or not parent.attempts:
        return None
    if parent.attempts[-1].state.terminal:
        return None
    earlier = d.state.find(parent.id, result.task_id, None)
    if earlier is not None and not earlier.state.terminal:  # of an earlier attempt of the group (a lost worker)
        d.kill_run(earlier)
    run = TaskRun(
        id=result.task_run_id,
        execution_id=d.execution.id,
        namespace=d.execution.namespace,
        flow_id=d.execution.flow_id,
        task_id=result.task_id,
        parent_task_run_id=parent.id,
        state=State.new(result.started or result.date),
        attempts=[Attempt(state=State.new(result.started or result.date))],
    )
    d.state.add(run)
    d.touch(run)
    return run
