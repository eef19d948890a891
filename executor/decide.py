"""The executor's functional core: `decide(execution, flow, event, now, timers) -> Decision`.

No I/O happens here. Every flow semantic (sequence, flowables, retries, allowFailure/allowWarning,
error branches, kill) is a rule applied to a working copy of the execution; the Kafka shell
(`executor.service`) publishes what the decision says: the new snapshot, the task runs that changed,
worker jobs, kill signals, timers and log lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conveyor.common.errors import RenderError
from conveyor.common.events import (
    Event,
    ExecutionCreated,
    KillRequested,
    LogEntry,
    RestartRequested,
    TaskResult,
    Timer,
    TimerFired,
    WorkerJob,
    WorkerLost,
)
from conveyor.common.flow import Flow
from conveyor.common.ids import new_id
from conveyor.common.model import Attempt, Execution, TaskRun
from conveyor.common.render import render_value
from conveyor.common.retry import RetryBehavior
from conveyor.common.state import State, StateType
from conveyor.common.tasks.base import FlowableTask, LogLevel, Task
from conveyor.executor import flow_retry, flowables, lost, restart
from conveyor.executor.context import base_context, run_context
from conveyor.executor.tree import RunIndex

S = StateType
# How long the executor waits for workers to confirm a kill before it ends the kill itself.
KILL_GRACE = timedelta(seconds=20)
# Precedence when a parent's state is computed from its children's.
SEVERITY = {S.SUCCESS: 0, S.SKIPPED: 0, S.WARNING: 1, S.PAUSED: 2, S.FAILED: 3, S.KILLED: 4}


def worst(a: StateType, b: StateType) -> StateType:
    return a if SEVERITY.get(a, 0) >= SEVERITY.get(b, 0) else b


@dataclass
class Decision:
    execution: Execution
    jobs: list[WorkerJob] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    changed: list[TaskRun] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)
    # New executions to create (flow-level retry, CREATE_NEW_EXECUTION), produced to execution-events.
    executions: list[ExecutionCreated] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.execution.state.terminal


def decide(
    execution: Execution | None,
    flow: Flow,
    event: Event,
    now: datetime,
    timers: list[Timer] | None = None,
    *,
    owned: bool = False,
) -> Decision:
    """`owned`: the caller hands the event over and never reads it again, so a creation's execution may be
    worked on in place instead of copied (the executor's shell, which decodes each event for this call)."""
    fresh = False
    if isinstance(event, ExecutionCreated):
        if execution is not None:  # a duplicate creation: nothing new
            return Decision(execution, timers=list(timers or []))
        execution, fresh = event.execution, owned
    if isinstance(event, RestartRequested) and execution is None:
        execution = event.execution  # the ended execution's final snapshot, brought back
    if execution is None:
        raise ValueError(f"no execution {event.execution_id} for {event.kind}")
    decider = _Decider(execution if fresh else execution.deep_copy(), flow, now, list(timers or []))
    decider.apply(event)
    return decider.decision()


@dataclass
class _FlowIndex:
    """What `decide` looks up in a flow, built once per flow object (read-only: the shell reuses one flow
    object for the executions of one flow revision)."""

    tasks: dict[str, Task]
    parents: dict[str, FlowableTask]
    _task_json: dict[str, dict[str, Any]] = field(default_factory=dict)

    def task_json(self, task: Task) -> dict[str, Any]:
        """The task's JSON for a worker job, dumped once (read-only: a job is serialised as soon as it is made)."""
        cached = self._task_json.get(task.id)
        if cached is None:
            cached = self._task_json[task.id] = task.model_dump(mode="json", by_alias=True, exclude_none=True)
        return cached


# id(flow) -> (flow, index); the flow is held so that its id is not reused while the entry lives.
_FLOW_INDEXES: dict[int, tuple[Flow, _FlowIndex]] = {}
FLOW_INDEX_MEMORY = 1024


def _flow_index(flow: Flow) -> _FlowIndex:
    entry = _FLOW_INDEXES.get(id(flow))
    if entry is not None and entry[0] is flow:
        return entry[1]
    tasks = {task.id: task for task in flow.all_tasks()}
    parents: dict[str, FlowableTask] = {}
    for task in tasks.values():
        if isinstance(task, FlowableTask):
            for children in [*task.child_lists(), task.error_tasks()]:
                for child in children:
                    parents[child.id] = task
    index = _FlowIndex(tasks, parents)
    if len(_FLOW_INDEXES) >= FLOW_INDEX_MEMORY:
        _FLOW_INDEXES.pop(next(iter(_FLOW_INDEXES)))
    _FLOW_INDEXES[id(flow)] = (flow, index)
    return index


class _Decider:
    def __init__(self, execution: Execution, flow: Flow, now: datetime, timers: list[Timer]) -> None:
        self.ex = execution  # a copy of the caller's, or one handed over
        self.flow = flow
        self.now = now
        self.timers = timers
        self.index = RunIndex(self.ex)
        self.flow_index = _flow_index(flow)
        self.tasks, self.parents = self.flow_index.tasks, self.flow_index.parents
        self.out = Decision(self.ex)
        self.changed: dict[str, TaskRun] = {}
        self.dirty = False
        self.progress = False
        self._base: dict[str, Any] | None = None

    # ---- events
    def apply(self, event: Event) -> None:
        if isinstance(event, ExecutionCreated):
            self.ex.state = self.ex.state.to(S.RUNNING, self.now)
            self.dirty = True
        elif isinstance(event, TaskResult):
            self._on_result(event)
        elif isinstance(event, TimerFired):
            self._on_timer(event)
        elif isinstance(event, KillRequested):
            self._on_kill()
        elif isinstance(event, RestartRequested):
            restart.restart(self)
        elif isinstance(event, WorkerLost):
            lost.worker_lost(self, event)
        self.advance()

    def decision(self) -> Decision:
        self.out.changed = list(self.changed.values())
        self.out.timers = self.timers
        if self.changed or self.dirty:
            self.ex.revision += 1
        return self.out

    def _on_result(self, result: TaskResult) -> None:
        run = self.index.by_id.get(result.task_run_id)
        if run is None or run.state.terminal or result.attempt != len(run.attempts):
            return  # unknown, finished, or a stale attempt's late report
        attempt = run.attempts[-1]
        if attempt.state.terminal:
            return
        started = result.started or result.date
        if attempt.state.current == S.CREATED:
            attempt.state = attempt.state.to(S.RUNNING, started)
        attempt.worker_id = result.worker_id or attempt.worker_id
        if run.state.current in (S.CREATED, S.RETRYING, S.RESTARTED):
            self._set(run, S.RUNNING, started)
        self._touch(run)
        if result.state == S.RUNNING:
            return
        attempt.state = attempt.state.to(result.state, result.date)
        attempt.metrics = result.metrics
        attempt.error = result.error
        if result.outputs is not None:
            run.outputs = result.outputs
            self._base = None
        self._attempt_ended(run, self.tasks[run.task_id], result.state)

    def _attempt_ended(self, run: TaskRun, task: Task, state: StateType) -> None:
        policy = task.retry or self._inherited_retry(task)
        if state == S.FAILED and self.ex.state.current != S.KILLING and policy is not None:
            first_start = run.attempts[0].state.start_date or self.now
            tries = lost.counted(run)  # an attempt lost with its worker is not the task's failure
            delay = policy.delay(tries)
            within_count = policy.max_attempt is None or tries < policy.max_attempt
            within_time = policy.max_duration is None or (self.now + delay - first_start) <= policy.max_duration
            if within_count and within_time and policy.behavior == RetryBehavior.RETRY_FAILED_TASK:
                self._set(run, S.RETRYING)
                self.timers.append(Timer(id=new_id(), due=self.now + delay, purpose="retry", ref=run.id))
                return
        if state == S.SUCCESS and policy is not None and policy.warning_on_retry and lost.counted(run) > 1:
            state = S.WARNING
        self._set(run, self._allowed(task, state))

    def _inherited_retry(self, task: Task) -> Any:
        parent = self.parents.get(task.id)
        while parent is not None:
            if parent.retry is not None:
                return parent.retry
            parent = self.parents.get(parent.id)
        return self.flow.retry

    @staticmethod
    def _allowed(task: Task, state: StateType) -> StateType:
        if state == S.FAILED and task.allow_failure:
            state = S.WARNING
        if state == S.WARNING and task.allow_warning:
            state = S.SUCCESS
        return state

    def _on_timer(self, event: TimerFired) -> None:
        timer = next((t for t in self.timers if t.id == event.timer_id), None)
        if timer is None:
            return
        self.timers.remove(timer)
        if timer.purpose == "retry" and timer.ref:
            run = self.index.by_id.get(timer.ref)
            if run is None or run.state.current != S.RETRYING:
                return
            if self.ex.state.current == S.KILLING:
                self._set(run, S.KILLED)
            else:
                self._dispatch(run, self.tasks[run.task_id])
        elif timer.purpose == flow_retry.NEW_EXECUTION and self.ex.state.current == S.RETRYING:
            flow_retry.retried(self)
        elif timer.purpose == "kill-grace" and self.ex.state.current == S.KILLING:
            for run in self.ex.task_run_list:
                if not run.state.terminal:
                    self._kill_run(run)

    def _on_kill(self) -> None:
        if self.ex.state.terminal or self.ex.state.current == S.KILLING:
            return
        self.ex.state = self.ex.state.to(S.KILLING, self.now)
        self.dirty = True
        self.out.kills.append(self.ex.id)
        for run in self.ex.task_run_list:
            running = run.attempts and run.attempts[-1].state.current == S.RUNNING
            if not run.state.terminal and not running and self.tasks[run.task_id].kind == "runnable":
                self._kill_run(run)
        self.timers = [t for t in self.timers if t.purpose != "retry"]
        self.timers.append(Timer(id=new_id(), due=self.now + KILL_GRACE, purpose="kill-grace"))

    def _kill_run(self, run: TaskRun) -> None:
        if run.attempts and not run.attempts[-1].state.terminal:
            attempt = run.attempts[-1]
            if attempt.state.current == S.CREATED:
                attempt.state = attempt.state.to(S.RUNNING, self.now)
            attempt.state = attempt.state.to(S.KILLED, self.now)
        if run.state.current in (S.CREATED, S.RETRYING, S.RESTARTED):  # no attempt of it is running
            self._set(run, S.KILLED)
        else:
            if run.state.current not in (S.RUNNING, S.KILLING):
                self._set(run, S.RUNNING)
            self._set(run, S.KILLED)

    # ---- advancing the flow
    def advance(self) -> None:
        if self.ex.state.terminal or self.ex.state.current == S.RETRYING:
            return  # ended, or waiting to be retried as a new execution
        for _ in range(10_000):
            self.progress = False
            result = self.step_list(self.flow.tasks, self.flow.errors, None, None)
            if result is not None:
                self._finish(result)
                return
            if not self.progress:
                return

    def step_list(
        self, tasks: list[Task], errors: list[Task], parent: TaskRun | None, value: str | None
    ) -> StateType | None:
        """Run `tasks` one after another under `parent` (and iteration `value`): the list's final state,
        or None while it is still running. A failure runs `errors`, then the list ends failed."""
        state = S.SUCCESS
        failure: StateType | None = None
        parent_id = parent.id if parent else None
        for task in tasks:
            if task.disabled:
                continue
            run = self.index.find(parent_id, task.id, value)
            if run is None:
                if self.ex.state.current == S.KILLING:
                    return S.KILLED
                self.start(task, parent, value)
                return None
            if not run.state.terminal and isinstance(task, FlowableTask):
                self.step_flowable(run, task)
            if not run.state.terminal:
                return None
            if run.state.current in (S.FAILED, S.KILLED):
                failure = run.state.current
                break
            state = worst(state, run.state.current)
        if failure is None:
            return state
        running_errors = errors and failure == S.FAILED and self.ex.state.current != S.KILLING
        if running_errors and self.step_list(errors, [], parent, value) is None:
            return None
        return failure

    def step_flowable(self, run: TaskRun, task: FlowableTask) -> None:
        if run.state.current in (S.CREATED, S.RESTARTED):
            self._set(run, S.RUNNING)
        try:
            result = flowables.step(self, task, run)
        except (flowables.FlowableError, RenderError) as exc:
            self.log(run, LogLevel.ERROR, str(exc))
            result = S.FAILED
        if result is not None:
            self._set(run, self._allowed(task, result))

    def start(self, task: Task, parent: TaskRun | None, value: str | None, iteration: int | None = None) -> TaskRun:
        run = TaskRun(
            id=new_id(),
            execution_id=self.ex.id,
            namespace=self.ex.namespace,
            flow_id=self.ex.flow_id,
            task_id=task.id,
            parent_task_run_id=parent.id if parent else None,
            value=value,
            iteration=iteration,
            state=State.new(self.now),
        )
        self.ex.task_run_list.append(run)
        self.index.add(run)
        self._touch(run)
        if isinstance(task, FlowableTask):
            self.step_flowable(run, task)
        else:
            self._dispatch(run, task)
        return run

    def _dispatch(self, run: TaskRun, task: Task) -> None:
        run.attempts.append(Attempt(state=State.new(self.now)))
        self._touch(run)
        context = run_context(self.base(), run, task, self.index, attempts_count=len(run.attempts) - 1)
        self.out.jobs.append(
            WorkerJob(
                task_run=run.deep_copy(),
                attempt=len(run.attempts),
                task=self.flow_index.task_json(task),
                context=context,
            )
        )

    def _finish(self, result: StateType) -> None:
        if self.ex.state.current == S.KILLING:
            result = S.KILLED
        if result == S.FAILED and flow_retry.schedule(self):
            return
        if result in (S.SUCCESS, S.WARNING) and self.flow.outputs:
            try:
                self.ex.outputs = self._flow_outputs()
            except RenderError as exc:
                self.log(None, LogLevel.ERROR, f"flow outputs: {exc}")
                self.ex.outputs = None
                result = S.FAILED
        self.ex.state = self.ex.state.to(result, self.now)
        self.timers = []
        self.dirty = True

    def _flow_outputs(self) -> dict[str, Any]:
        ctx = self.base()
        outputs: dict[str, Any] = {}
        for output in self.flow.outputs:
            rendered = render_value(output.value, ctx, f"outputs.{output.id}")
            outputs[output.id] = flowables.typed_output(output.type, rendered)
        return outputs

    # ---- helpers used by the flowable rules
    def base(self) -> dict[str, Any]:
        if self._base is None:
            self._base = base_context(self.ex, self.flow, self.index)
        return self._base

    def context_for(self, run: TaskRun) -> dict[str, Any]:
        return run_context(self.base(), run, self.tasks[run.task_id], self.index)

    def set_outputs(self, run: TaskRun, outputs: dict[str, Any]) -> None:
        run.outputs = outputs
        self._base = None
        self._touch(run)

    def log(self, run: TaskRun | None, level: LogLevel, message: str) -> None:
        self.out.logs.append(
            LogEntry(
                namespace=self.ex.namespace,
                flow_id=self.ex.flow_id,
                execution_id=self.ex.id,
                task_id=run.task_id if run else None,
                task_run_id=run.id if run else None,
                level=level,
                message=message,
                timestamp=self.now,
            )
        )

    def _set(self, run: TaskRun, state: StateType, when: datetime | None = None) -> None:
        run.state = run.state.to(state, when or self.now)
        self._touch(run)

    def _touch(self, run: TaskRun) -> None:
        self.changed[run.id] = run
        self.progress = True
