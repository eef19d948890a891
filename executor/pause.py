"""Pausing and resuming, as rules of the pure core: the Pause task, `conveyor pause` and `conveyor resume`.

The reference's semantics (`io.kestra.plugin.core.flow.Pause`, its `PauseTest`):
- a Pause task run goes RUNNING, then PAUSED, and the execution PAUSED; while an execution is PAUSED nothing
  new starts (`decide.advance` stops), attempts already running end and are recorded;
- `delay` (or `pauseDuration`): after it the pause resumes itself; `timeout`: after it, unless resumed
  before, the pause ends FAILED (its `tasks` never run). `behavior` (RESUME, WARN, FAIL, CANCEL) says what the
  end of either does instead. The deadline is a timer of the task run (purpose `pause`), kept in its
  `executor-state` record, so a new owner of the partition re-arms it (`records.rebuild`);
- a resume (`ResumeRequested`) puts every PAUSED Pause task run back to RUNNING (a second RUNNING in its
  histories) with its `onResume` inputs as its output `onResume`, and the execution RUNNING; a resumed pause
  runs its deprecated `tasks`, as a Sequential, then ends (SUCCESS without tasks);
- `conveyor pause` (`PauseRequested`) puts a RUNNING execution PAUSED; its resume just lets it go on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from conveyor.common.clock import parse_duration
from conveyor.common.errors import RenderError
from conveyor.common.events import ResumeRequested
from conveyor.common.inputs import typed_input
from conveyor.common.model import TaskRun
from conveyor.common.render import render
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.flowable import Pause, PauseBehavior
from conveyor.executor.values import FlowableError

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType
TIMER = "pause"
# What the end of a delay, a timeout, makes of the pause when `behavior` does not say.
ENDS = {PauseBehavior.RESUME: S.RUNNING, PauseBehavior.WARN: S.WARNING, PauseBehavior.FAIL: S.FAILED}


def has_paused(run: TaskRun) -> bool:
    return any(h.state == S.PAUSED for h in run.state.histories)


def step(d: Rules, task: Pause, run: TaskRun) -> StateType | None:
    """The Pause's final state, or None while it is paused or its tasks run."""
    if run.state.current == S.PAUSED:
        if d.killing:
            return S.KILLED
        return None
    if not has_paused(run):
        _pause(d, task, run)
        return None
    if not task.tasks:
        return S.SUCCESS
    return d.step_list(task.tasks, task.errors, run, None)


def _pause(d: Rules, task: Pause, run: TaskRun) -> None:
    due, behavior = _deadline(d, task, run)
    d.set_state(run, S.PAUSED)
    if d.execution.state.current == S.RUNNING:
        d.set_execution_state(S.PAUSED)
    if due is not None:
        d.start_timer(d.now + due, f"{TIMER}/{behavior.value}", run.id)
        d.log(run, LogLevel.INFO, f"paused until {(d.now + due).isoformat()} (then {behavior.value})")
    else:
        d.log(run, LogLevel.INFO, "paused until resumed")


def _deadline(d: Rules, task: Pause, run: TaskRun) -> tuple[timedelta | None, PauseBehavior]:
    """How long the pause lasts before its behavior applies (None: until resumed) and that behavior."""
    if task.delay is not None:
        try:
            text = render(task.delay, d.context_for(run), task.id)
            delay = parse_duration(text.strip()) if text.strip() else None
        except (RenderError, ValueError) as exc:
            raise FlowableError(f"task {task.id}: delay: {exc}") from None
        if delay is not None:
            return delay, task.behavior or PauseBehavior.RESUME
    if task.timeout is not None:
        return task.timeout, task.behavior or PauseBehavior.FAIL
    return None, task.behavior or PauseBehavior.RESUME


def timer_due(d: Rules, run_id: str, purpose: str) -> None:
    """The pause's delay or timeout has run out: its behavior (decided when it paused, in the timer's
    purpose `pause/<BEHAVIOR>`) applies."""
    run = d.state.runs.get(run_id)
    if run is None or run.state.current != S.PAUSED:
        return
    task = d.task(run.task_id)
    assert isinstance(task, Pause)
    behavior = PauseBehavior(purpose.partition("/")[2] or PauseBehavior.RESUME)
    if behavior == PauseBehavior.CANCEL:
        d.log(run, LogLevel.WARN, "pause ran out: the execution is cancelled")
        d.set_state(run, S.CANCELLED)
    else:
        target = ENDS[behavior]
        d.log(run, LogLevel.INFO if target == S.RUNNING else LogLevel.WARN, f"pause ran out: {behavior.value}")
        if target == S.RUNNING and task.on_resume:
            d.set_outputs(run, {"onResume": _defaults(task)})
        d.set_state(run, target)
    _running_again(d)


def _defaults(task: Pause) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in task.on_resume:
        try:
            out[spec.id] = typed_input(spec, spec.defaults)
        except ValueError:
            out[spec.id] = None
    return out


def resume(d: Rules, event: ResumeRequested) -> None:
    if d.execution.state.current != S.PAUSED:
        d.log(None, LogLevel.WARN, f"resume ignored: the execution is {d.execution.state.current.value}, not PAUSED")
        return
    resumed = 0
    for run in [d.state.runs[run_id] for run_id in list(d.state.paused)]:
        task = d.task(run.task_id)
        if isinstance(task, Pause) and task.on_resume:
            d.set_outputs(run, {"onResume": event.inputs.get(task.id, {})})
        d.cancel_run_timer(run)
        d.set_state(run, S.RUNNING)
        resumed += 1
    _running_again(d, force=True)
    d.log(None, LogLevel.INFO, f"execution resumed ({resumed} paused task run(s))")


def pause(d: Rules) -> None:
    if d.execution.state.current != S.RUNNING:
        d.log(None, LogLevel.WARN, f"pause ignored: the execution is {d.execution.state.current.value}, not RUNNING")
        return
    d.set_execution_state(S.PAUSED)
    d.log(None, LogLevel.INFO, "execution paused: nothing new starts until it is resumed")


def _running_again(d: Rules, force: bool = False) -> None:
    """The execution goes RUNNING again once no task run of it is PAUSED (a resume: at once)."""
    if d.execution.state.current == S.PAUSED and (force or not d.state.paused):
        d.set_execution_state(S.RUNNING)
