"""The LoopUntil rule (the reference's `WaitFor` under its newer name): iterations of the same child tasks
until a condition holds.

Each iteration creates new task runs of the children (the same `parentTaskRunId`, no `value`, `iteration`
= the iteration's number), so `outputs.<child>` reads the latest iteration's outputs; the index by
(parent, task, value) points at the latest run, so a step looks at the current iteration's runs only. The
loop's own output `iterationCount` is the number of the iteration that runs (1 first) and, once it ended,
the number of iterations run. Between two iterations the loop waits `checkFrequency.interval` on a timer
of its task run (purpose `loop`), kept in its `executor-state` record like a retry delay.

The loop ends as its last iteration did (the reference drops an iteration's task runs when the next starts,
then takes the state from those left): earlier iterations' states do not count (corpus `loopuntil-last-iteration`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.common.model import TaskRun
from conveyor.common.state import StateType
from conveyor.common.tasks.base import FlowableTask, LogLevel, Task
from conveyor.common.tasks.flowable import LoopUntil
from conveyor.executor.state import worst
from conveyor.executor.values import render_condition

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType
TIMER = "loop"
COUNT = "iterationCount"


def loop_until(d: Rules, task: LoopUntil, run: TaskRun) -> StateType | None:
    """The loop's final state, or None while an iteration runs or the loop waits for the next one."""
    waiting = d.state.run_timers.get(run.id)
    if waiting is not None and waiting.purpose == TIMER:
        if not d.killing:
            return None
        d.cancel_run_timer(run)
        return S.KILLED
    if not run.outputs or not isinstance(run.outputs.get(COUNT), int):
        d.set_outputs(run, {COUNT: 1})
    assert run.outputs is not None
    number = int(run.outputs[COUNT])
    result = _iteration(d, task.tasks, run, number)
    if result is None:
        return None
    if result in (S.FAILED, S.KILLED, S.CANCELLED) or d.killing:
        return _failed(d, task, run, S.KILLED if d.killing and result != S.FAILED else result)
    if _closing(d, task, run):  # it ended with this iteration; its `finally` tasks run: nothing is decided again
        failed = task.fail_on_max_reached and _reached(d, task, run, number) is not None
        return S.FAILED if failed and not render_condition(task.condition, d.context_for(run), task.id) else result
    if render_condition(task.condition, d.context_for(run), task.id):
        return result
    limit = _reached(d, task, run, number)
    if limit is not None:
        d.log(run, LogLevel.WARN, f"{limit} reached after {number} iteration(s): the condition never held")
        return S.FAILED if task.fail_on_max_reached else result
    d.set_outputs(run, {COUNT: number + 1})
    d.start_timer(d.now + task.check_frequency.interval, TIMER, run.id)
    return None


def _iteration(d: Rules, tasks: list[Task], run: TaskRun, number: int) -> StateType | None:
    """The children of iteration `number`, one after another: its state, None while it runs."""
    state = S.SUCCESS
    for task in tasks:
        if task.disabled:
            continue
        child = d.state.find(run.id, task.id, None)
        if child is None or child.iteration != number:  # not yet started in this iteration
            if d.killing:
                return S.KILLED
            d.start(task, run, None, number)
            return None
        if not child.state.terminal and isinstance(task, FlowableTask):
            d.step_flowable(child, task)
        if not child.state.terminal:
            return None
        if child.state.current in (S.FAILED, S.KILLED, S.CANCELLED):
            return child.state.current
        state = worst(state, child.state.current)
    return state


def _closing(d: Rules, task: LoopUntil, run: TaskRun) -> bool:
    """Whether the loop's `finally` tasks have started (so its iterations are over)."""
    first = next((t for t in task.finally_ if not t.disabled), None)
    return first is not None and d.state.has(run.id, first.id, None)


def _failed(d: Rules, task: LoopUntil, run: TaskRun, state: StateType) -> StateType | None:
    """A failed iteration ends the loop; its `errors` branch runs first (as a Sequential's)."""
    if state == S.FAILED and task.errors and not d.killing and d.step_list(task.errors, [], run, None) is None:
        return None
    return state


def _reached(d: Rules, task: LoopUntil, run: TaskRun, number: int) -> str | None:
    """Which maximum of `checkFrequency` the loop has reached after iteration `number`, None if none."""
    frequency = task.check_frequency
    if frequency.max_iterations is not None and number >= frequency.max_iterations:
        return "max iterations"
    started = run.state.histories[0].date
    if frequency.max_duration is not None and d.now - started >= frequency.max_duration:
        return "max duration"
    return None
