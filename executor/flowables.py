"""The rules of the flowable tasks: which children to create next, and when the flowable is done.

Each rule returns the flowable's final state (computed from its normal children only, with KILLED >
FAILED > WARNING > SUCCESS) or None while it is still running.

A flowable's `finally` tasks (the reference's; a WorkingDirectory's worker runs its own, in its directory:
`workdirs`) run one after another once its rule has a final state, whatever it is (after `errors`, when they
ran); the flowable then ends in the worse of the two (`_finally`). They run once per flowable task run (a
ForEach's once, not per value), with no `value` of their own, and none starts once a kill is under way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.common.expr_context import REVEALED_KEY, Revealed
from conveyor.common.model import TaskRun
from conveyor.common.render import render
from conveyor.common.state import StateType
from conveyor.common.tasks import flowable as f
from conveyor.common.tasks.base import FlowableTask, LogLevel, Task
from conveyor.common.tasks.subflow import ForEachItem, Subflow
from conveyor.executor import items, loops, pause, subflows, workdirs
from conveyor.executor.state import Loop, worst
from conveyor.executor.values import FlowableError, foreach_values, render_condition

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType


def step(d: Rules, task: FlowableTask, run: TaskRun) -> StateType | None:
    """The flowable's final state, its `finally` tasks included; None while it runs."""
    result = _step(d, task, run)
    finally_ = task.finally_tasks()
    if result is None or not finally_ or isinstance(task, f.WorkingDirectory):  # its worker ran them: `workdirs`
        return result
    ended = d.step_list(finally_, [], run, None)
    return None if ended is None else worst(result, ended)


def _step(d: Rules, task: FlowableTask, run: TaskRun) -> StateType | None:
    rule = next((rule for kind, rule in _RULES if isinstance(task, kind)), None)
    if rule is None:
        raise FlowableError(f"no executor rule for flowable type {task.type}")
    return rule(d, task, run)


def _sequential(d: Rules, task: f.Sequential, run: TaskRun) -> StateType | None:
    """AllowFailure too: `allowed` turns its failure into WARNING."""
    return d.step_list(task.tasks, task.errors, run, None)


def _parallel_task(d: Rules, task: f.Parallel, run: TaskRun) -> StateType | None:
    return _parallel(d, task.tasks, task.errors, run, task.limit)


def _for_each(d: Rules, task: f.ForEach, run: TaskRun) -> StateType | None:
    return _each(d, task, task.values, task.tasks, task.errors, run, task.concurrency_limit)


def _each_sequential(d: Rules, task: f.EachSequential, run: TaskRun) -> StateType | None:
    return _each(d, task, task.value, task.tasks, task.errors, run, 1)


def _each_parallel(d: Rules, task: f.EachParallel, run: TaskRun) -> StateType | None:
    return _each(d, task, task.value, task.tasks, task.errors, run, task.concurrent)


def _first(tasks: list[Task]) -> Task | None:
    return next((t for t in tasks if not t.disabled), None)


def _dag(d: Rules, task: f.Dag, run: TaskRun) -> StateType | None:
    """A Parallel whose tasks wait for their dependencies to end (a disabled dependency counts as ended)."""
    depends = task.dependencies

    def ready(child: Task) -> bool:
        return all(_ended(d, run, dep) for dep in depends.get(child.id, ()))

    return _parallel(d, [t.task for t in task.tasks], task.errors, run, task.concurrent, ready)


def _ended(d: Rules, run: TaskRun, task_id: str) -> bool:
    dep = d.state.find(run.id, task_id, None)
    if dep is None:
        found = d.flow_task(task_id)
        return found is not None and found.disabled
    return dep.state.terminal


def _parallel(
    d: Rules,
    tasks: list[Task],
    errors: list[Task],
    run: TaskRun,
    limit: int,
    ready: Callable[[Task], bool] | None = None,
) -> StateType | None:
    """Start the tasks (at most `limit` running, 0: no limit; with `ready`, only those it accepts), and end
    once all of them have (no new one starts after a failure)."""
    progress = _Progress(d)
    waiting: list[Task] = []
    for task in tasks:
        if task.disabled:
            continue
        child = d.state.find(run.id, task.id, None)
        if child is None:
            waiting.append(task)
            continue
        if not child.state.terminal and isinstance(task, FlowableTask):
            d.step_flowable(child, task)
        progress.add(None if not child.state.terminal else child.state.current)
    if waiting and not progress.stopping:
        # Every child that fits is created at once, before any of them is stepped (as the reference does).
        startable = waiting if ready is None else [t for t in waiting if ready(t)]
        room = len(startable) if limit == 0 else max(limit - progress.running, 0)
        started = [(task, d.start(task, run, None)) for task in startable[:room]]
        begun = {task.id for task, _ in started}
        waiting = [t for t in waiting if t.id not in begun]
        for task, child in started:
            if not child.state.terminal and isinstance(task, FlowableTask):
                d.step_flowable(child, task)
            progress.add(None if not child.state.terminal else child.state.current)
    if progress.running or (waiting and not progress.stopping):
        return None
    state = progress.state
    if progress.killing and waiting and state != S.FAILED:
        state = worst(state, S.KILLED)
    return _with_errors(d, state, errors, run)


class _Progress:
    """The children of a Parallel or a ForEach so far: how many run, the worst final state, a failure."""

    def __init__(self, d: Rules) -> None:
        self.killing = d.killing
        self.state = S.SUCCESS
        self.failed = False
        self.running = 0

    def add(self, result: StateType | None) -> None:
        if result is None:
            self.running += 1
            return
        if result in (S.FAILED, S.KILLED):
            self.failed = True
        self.state = worst(self.state, result)

    @property
    def stopping(self) -> bool:
        """No new child starts once one failed or the execution is being killed."""
        return self.failed or self.killing


def _each(
    d: Rules,
    task: FlowableTask,
    values: str | list[Any],
    tasks: list[Task],
    errors: list[Task],
    run: TaskRun,
    limit: int,
) -> StateType | None:
    """A loop: its values are rendered once, its iterations start in order (at most `limit` open at once,
    0 = all), and each step looks only at the iterations with a change beneath them."""
    first = _first(tasks)
    if first is None:
        return S.SUCCESS
    loop = d.state.loops.get(run.id)
    if loop is None:  # a new loop, or one brought back (a recovery, a restart): its values rendered again
        items = _values(d, task, values, run)
        loop = d.state.loops[run.id] = Loop.resume(items, lambda v: d.state.has(run.id, first.id, v))
    for value in loop.take_dirty():
        if value in loop.open:
            _step_iteration(d, loop, tasks, run, value)
    if loop.waiting and not (loop.failed or d.killing):
        _start_values(d, loop, first, tasks, run, limit)
    if loop.open or (loop.waiting and not (loop.failed or d.killing)):
        return None
    state = loop.state
    if d.killing and loop.waiting and not loop.failed:
        state = S.KILLED
    return _with_errors(d, state, errors, run)


def _values(d: Rules, task: FlowableTask, values: str | list[Any], run: TaskRun) -> list[str]:
    """The loop's values; a secret one read (`secret()`) is written `******` in them, as everywhere else: the
    values are task runs' `value`s, published and indexed (the iterations then see the masked value)."""
    revealed = Revealed()
    context = d.context_for(run)
    context[REVEALED_KEY] = revealed
    items = foreach_values(values, context, task.id)
    if not revealed:
        return items
    d.log(run, LogLevel.WARN, "a value of the loop holds a secret: it is written ****** in the task runs")
    return list(dict.fromkeys(revealed.redact(item) for item in items))


def _start_values(d: Rules, loop: Loop, first: Task, tasks: list[Task], run: TaskRun, limit: int) -> None:
    """Every value that fits starts at once, before any of them is stepped (as the reference does)."""
    wanted = loop.waiting if limit == 0 else max(limit - len(loop.open), 0)
    room = min(wanted, d.starts_left())
    started = loop.values[loop.started : loop.started + room]
    for iteration, value in enumerate(started, start=loop.started):
        loop.open[value] = None
        d.start(first, run, value, iteration)
    loop.started += len(started)
    d.started(len(started), run, more=room < wanted)
    for value in started:
        _step_iteration(d, loop, tasks, run, value)
    for value in started:  # stepped just now
        loop.dirty.pop(value, None)


def _step_iteration(d: Rules, loop: Loop, tasks: list[Task], run: TaskRun, value: str) -> None:
    result = d.step_list(tasks, [], run, value)
    if result is not None:
        loop.close(value, result)


def _if(d: Rules, task: f.If, run: TaskRun) -> StateType | None:
    if _branch_started(d, task.then, run):
        branch = task.then
    elif _branch_started(d, task.else_, run):
        branch = task.else_
    else:
        branch = task.then if render_condition(task.condition, d.context_for(run), task.id) else task.else_
    if not branch:
        return S.SUCCESS
    return d.step_list(branch, task.errors, run, None)


def _switch(d: Rules, task: f.Switch, run: TaskRun) -> StateType | None:
    if run.outputs is None:
        value = render(str(task.value), d.context_for(run), task.id)
        matched = value in task.cases
        if not matched and not task.defaults:
            raise FlowableError(f"Switch '{task.id}': no case matches value {value!r} and there are no defaults")
        d.set_outputs(run, {"value": value, "defaults": not matched})
    value = str(run.outputs.get("value")) if run.outputs else ""
    branch = task.cases.get(value) or task.defaults
    return d.step_list(branch, task.errors, run, None)


def _branch_started(d: Rules, tasks: list[Task], run: TaskRun) -> bool:
    return any(d.state.has(run.id, t.id, None) for t in tasks)


def _with_errors(d: Rules, state: StateType, errors: list[Task], run: TaskRun) -> StateType | None:
    running_errors = state == S.FAILED and errors and not d.killing
    if running_errors and d.step_list(errors, [], run, None) is None:
        return None
    return state


# The rule of each flowable, the first whose type the task is (AllowFailure is a Sequential).
_RULES: tuple[tuple[type[FlowableTask], Callable[[Rules, Any, TaskRun], StateType | None]], ...] = (
    (f.Sequential, _sequential),
    (f.Dag, _dag),
    (f.LoopUntil, loops.loop_until),
    (f.WorkingDirectory, workdirs.step),
    (f.Parallel, _parallel_task),
    (f.ForEach, _for_each),
    (f.EachSequential, _each_sequential),
    (f.EachParallel, _each_parallel),
    (f.If, _if),
    (f.Switch, _switch),
    (f.Pause, pause.step),
    (Subflow, subflows.subflow),
    (ForEachItem, items.for_each_item),
)

__all__ = ["FlowableError", "step"]
