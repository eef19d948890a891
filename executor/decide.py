"""The executor's functional core: `decide(state, plan, event, env) -> Decision`.

No I/O happens here, and nothing is drawn from the world but through `env` (the clock, ids, randomness):
the same state, plan, event and env give the same decision. Every flow semantic (sequence, flowables,
retries, allowFailure/allowWarning, error branches, kill) is a rule applied to the execution's working
state (`executor.state`), changed in place; the rules work through the interface of `executor.rules`.
The Kafka shell (`executor.service`) publishes what the decision says: the header, the task runs that
changed, worker jobs, kill signals, timers and log lines.

The work of one event follows what it changes: a task run is found by id or by (parent, task, value), a
loop steps only the iterations with a change beneath them (`Loop.dirty`), and a worker job carries only
the outputs its task can read (`executor.context.outputs_for`). What scans every task run happens once
per execution at most: a kill, a restart, the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any

import orjson

from conveyor.common.concurrency import SlotForced, SlotReleased, SlotRequested
from conveyor.common.errors import InputError, RenderError
from conveyor.common.events import (
    ChangeStateRequested,
    Event,
    ExecutionCreated,
    KillRequested,
    LogEntry,
    PauseRequested,
    RestartRequested,
    ResumeRequested,
    SlotDecided,
    SubflowEnded,
    TaskResult,
    Timer,
    TimerFired,
    UnqueueRequested,
    WorkerJob,
    WorkerLost,
)
from conveyor.common.expr_context import KV_KEY
from conveyor.common.flow import Flow
from conveyor.common.ids import derived_id
from conveyor.common.inputs import typed_outputs
from conveyor.common.limits import MAX_RECORD_BYTES
from conveyor.common.model import Attempt, Execution, TaskRun
from conveyor.common.render import NOW_KEY, render_value
from conveyor.common.retry import Retry, RetryBehavior
from conveyor.common.state import State, StateType
from conveyor.common.tasks.base import ExecutionUpdatingTask, FlowableTask, LogLevel, Task
from conveyor.common.tasks.subflow import ForEachItem, Subflow
from conveyor.executor import (
    change_state,
    concurrency,
    epilogue,
    flow_retry,
    flowables,
    items,
    loops,
    lost,
    pause,
    restart,
    run_if,
    subflows,
    updating,
    workdirs,
)
from conveyor.executor.context import base_context, error_entry, run_context, whole_outputs
from conveyor.executor.env import Env
from conveyor.executor.plan import Plan
from conveyor.executor.state import ExecutionState, allowed, worst

S = StateType
# How long the executor waits for workers to confirm a kill before it ends the kill itself.
KILL_GRACE = timedelta(seconds=20)
# At most this many loop iterations start in one decision; a loop with more to start goes on in the next one
# (a "continue" timer due at once): one transaction, and the executor's memory, stay bounded whatever N.
MAX_STARTS = 1000
CONTINUE = "continue"

__all__ = ["KILL_GRACE", "Decision", "decide", "worst"]


@dataclass
class Decision:
    state: ExecutionState
    # Each worker job as (task run id, its JSON), made once (its size checked against the record bound); the
    # shell sends the bytes, no job object is kept (a loop may dispatch thousands in one decision).
    encoded: list[tuple[str, bytes]] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    # Timers this decision armed (the execution's timers are `state.timers`).
    timers: list[Timer] = field(default_factory=list)
    changed: list[TaskRun] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)
    # New executions to create (flow-level retry, CREATE_NEW_EXECUTION), produced to execution-events.
    executions: list[ExecutionCreated] = field(default_factory=list)
    # A child's end for its parent (to execution-events, keyed by the parent), kills of children (to control).
    events: list[SubflowEnded] = field(default_factory=list)
    control: list[KillRequested] = field(default_factory=list)
    # Slot requests and releases for the slot keeper (flow concurrency), to concurrency-requests.
    slots: list[SlotRequested | SlotReleased | SlotForced] = field(default_factory=list)
    # Whether anything changed: the header (with its new revision) is to be published.
    header_changed: bool = False
    # The JSON of each task run in `changed` (what the shell publishes; the state keeps it as such).
    changed_json: dict[str, bytes] = field(default_factory=dict)

    @property
    def jobs(self) -> list[WorkerJob]:
        """The worker jobs, decoded (for tests and tools)."""
        return [WorkerJob.model_validate_json(blob) for _, blob in self.encoded]

    @property
    def encoded_jobs(self) -> list[bytes]:
        return [blob for _, blob in self.encoded]

    @property
    def execution(self) -> Execution:
        """The execution's header (without its task runs)."""
        return self.state.header

    @property
    def ended(self) -> bool:
        return self.state.finished


def decide(state: ExecutionState | None, plan: Plan, event: Event, env: Env) -> Decision:
    """Apply `event` to the execution's working state (changed in place; a creation makes it)."""
    if isinstance(event, ExecutionCreated):
        if state is not None:  # a duplicate creation: nothing new
            return Decision(state)
        state = ExecutionState.create(event.execution, event.flow)
    brought = isinstance(event, (RestartRequested, ChangeStateRequested)) and state is None
    if brought and isinstance(event, (RestartRequested, ChangeStateRequested)) and event.execution is not None:
        state = ExecutionState.create(event.execution, event.flow or {})  # brought back whole
    if state is None:
        raise ValueError(f"no execution {event.execution_id} for {event.kind}")
    decider = Decider(state, plan, env)
    decider.apply(event)
    return decider.decision()


class Decider:
    """One decision: implements `executor.rules.Rules` for the rule modules."""

    def __init__(self, state: ExecutionState, plan: Plan, env: Env) -> None:
        self._state = state
        self.plan = plan
        self.env = env
        self.ex = state.header
        self.out = Decision(state)
        self.changed: dict[str, TaskRun] = {}
        self.header_changed = False
        self.progress = False
        self._base: dict[str, Any] | None = None
        self._starts = MAX_STARTS

    # ---- what the rules read
    @property
    def execution(self) -> Execution:
        return self.ex

    @property
    def state(self) -> ExecutionState:
        return self._state

    @property
    def flow(self) -> Flow:
        return self.plan.flow

    @property
    def now(self) -> datetime:
        return self.env.now

    @property
    def rand(self) -> Random:
        return self.env.rand

    @property
    def killing(self) -> bool:
        return self.ex.state.current == S.KILLING

    def new_id(self) -> str:
        return self.env.ids()

    def task(self, task_id: str) -> Task:
        return self.plan.tasks[task_id]

    def starts_left(self) -> int:
        return self._starts

    def started(self, count: int, loop_run: TaskRun, more: bool) -> None:
        self._starts -= count
        if more:
            self._state.continuing[loop_run.id] = None
            if not any(t.purpose == CONTINUE for t in self._state.execution_timers.values()):
                self.start_timer(self.now, CONTINUE)

    def flow_task(self, task_id: str) -> Task | None:
        return self.plan.tasks.get(task_id)

    def retry_policy(self, task: Task) -> Retry | None:
        found: Retry | None = task.retry or self.plan.inherited_retry(task)
        return found

    # ---- events
    def apply(self, event: Event) -> None:
        self._state.remember(event.event_id)
        rule = _ON_EVENT.get(type(event))
        if rule is not None:
            rule(self, event)
        self.advance()

    def decision(self) -> Decision:
        self.out.changed = list(self.changed.values())
        # Between decisions the state keeps each task run as the JSON it is published as (`executor.runs`).
        self.out.changed_json = {run.id: run.to_json() for run in self.out.changed}
        self._state.runs.freeze(self.out.changed_json, self._hot)
        if self.changed or self.header_changed:
            self.ex.revision += 1
            self.out.header_changed = True
        return self.out

    def _hot(self, run: TaskRun) -> bool:
        """Kept an object between decisions: a running flowable (read by every change beneath it)."""
        return not run.state.terminal and isinstance(self.plan.tasks.get(run.task_id), FlowableTask)

    def _on_created(self, _event: ExecutionCreated) -> None:
        if not concurrency.created(self):
            self.set_execution_state(S.RUNNING)

    def _on_restart(self, _event: RestartRequested) -> None:
        if not concurrency.restarting(self):
            restart.restart(self)

    def _on_pause(self, _event: PauseRequested) -> None:
        pause.pause(self)

    def _on_unqueue(self, event: UnqueueRequested) -> None:
        start = concurrency.unqueue(self, event.event_id)
        if start is not None:
            self._on_slot(start)

    def _on_slot(self, event: SlotDecided) -> None:
        if not change_state.slot_decided(self, event):
            concurrency.decided(self, event)

    def _on_child_ended(self, event: SubflowEnded) -> None:
        subflows.child_ended(self, event)
        items.child_ended(self, event)

    def _on_result(self, result: TaskResult) -> None:
        run = self._state.runs.get(result.task_run_id) or workdirs.adopt(self, result)
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
            self.set_state(run, S.RUNNING, started)
        self._touch(run)
        if result.state == S.RUNNING:
            return
        attempt.state = attempt.state.to(result.state, result.date)
        attempt.metrics = result.metrics
        attempt.error = result.error
        self._state.attempt_closed(run)
        if result.state == S.FAILED and attempt.error:
            self._state.record_error(error_entry(self.ex.id, run, len(run.attempts), attempt))
        task = self.task(run.task_id)
        if result.outputs is not None:
            restarting = isinstance(task, (ForEachItem, Subflow))  # a child may have ended before the answer
            run.outputs = items.job_outputs(run, result.outputs) if restarting else result.outputs
        if isinstance(task, FlowableTask):
            return  # a group a worker ran (WorkingDirectory): its rule decides from its tasks' reports
        self._attempt_ended(run, task, result.state)

    def _attempt_ended(self, run: TaskRun, task: Task, state: StateType) -> None:
        policy = None if workdirs.in_group(self, run) else self.retry_policy(task)
        if state == S.FAILED and not self.killing and policy is not None:
            first_start = run.attempts[0].state.start_date or self.now
            tries = lost.counted(run)  # an attempt lost with its worker is not the task's failure
            delay = policy.next_delay(tries, self.rand, self.now, first_start)
            if delay is not None and policy.behavior == RetryBehavior.RETRY_FAILED_TASK:
                self.set_state(run, S.RETRYING)
                self.start_timer(self.now + delay, "retry", run.id)
                return
        if state == S.SUCCESS and policy is not None and policy.warning_on_retry and lost.counted(run) > 1:
            state = S.WARNING
        self.set_state(run, allowed(task, state))

    def _on_timer(self, event: TimerFired) -> None:
        timer = self._state.disarm(event.timer_id)
        if timer is None:
            return
        self.header_changed = True
        if timer.purpose == "retry" and timer.ref:
            self._retry_due(timer.ref)
        elif timer.purpose == CONTINUE:
            self._continue_loops()
        elif timer.purpose == loops.TIMER and timer.ref is not None and timer.ref in self._state.runs:
            self._touch(self._state.runs[timer.ref])  # a LoopUntil's next iteration is due
        elif timer.purpose.startswith(pause.TIMER) and timer.ref:
            pause.timer_due(self, timer.ref, timer.purpose)
        elif timer.purpose == flow_retry.NEW_EXECUTION and self.ex.state.current == S.RETRYING:
            flow_retry.retried(self)
        elif timer.purpose == "kill-grace" and self.killing:
            for run in self._state.in_order():
                if not run.state.terminal:
                    self.kill_run(run)

    def _retry_due(self, run_id: str) -> None:
        run = self._state.runs.get(run_id)
        if run is None or run.state.current != S.RETRYING:
            return
        self._touch(run)  # its record holds the timer
        if self.killing:
            self.set_state(run, S.KILLED)
        else:
            self.dispatch(run, self.task(run.task_id))

    def _continue_loops(self) -> None:
        """The loops that had more to start than the last decision started are stepped again."""
        for run_id in list(self._state.continuing):
            self._state.continuing.pop(run_id, None)
            if run_id in self._state.runs:
                self._state.mark(self._state.runs[run_id])
                self.progress = True

    def _on_kill(self, _event: KillRequested) -> None:
        if self.ex.state.terminal or self.killing:
            return
        self.set_execution_state(S.KILLING)
        self.out.kills.append(self.ex.id)
        for run in self._state.in_order():
            running = run.attempts and run.attempts[-1].state.current == S.RUNNING
            if not run.state.terminal and not running and self.task(run.task_id).kind == "runnable":
                self.kill_run(run)
        for loop in self._state.loops.values():  # every running loop decides again: nothing new starts
            loop.dirty.update(loop.open)
        self.cancel_timers("retry")
        self.start_timer(self.now + KILL_GRACE, "kill-grace")

    # ---- advancing the flow
    def advance(self) -> None:
        if self._state.after:  # ended; its afterExecution tasks run (`executor.epilogue`)
            self._steps(lambda: epilogue.after_execution(self))
            return
        current = self.ex.state.current
        if current.terminal or current == S.RETRYING or self._state.restoring or concurrency.waiting(current):
            return  # ended, waiting to be retried as a new execution, not yet restored, or waiting for a slot
        self._steps(self._step_flow)

    def _steps(self, step: Callable[[], bool]) -> None:
        """Step until `step` says it is done or a step changes nothing."""
        for _ in range(10_000):
            if self.ex.state.current == S.PAUSED:
                return  # nothing new starts until it is resumed
            self.progress = False
            if step() or not self.progress:
                return

    def _step_flow(self) -> bool:
        result = self.step_list(self.flow.tasks, self.flow.errors, None, None)
        if result is not None:
            result = epilogue.finally_(self, result)
        if result is None:
            return False
        self._finish(result)
        return True

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
            run = self._state.find(parent_id, task.id, value)
            if run is None:
                if self.killing:
                    return S.KILLED
                self.start(task, parent, value)
                return None
            if not run.state.terminal and isinstance(task, FlowableTask):
                self.step_flowable(run, task)
            if not run.state.terminal:
                return None
            if run.state.current in (S.FAILED, S.KILLED, S.CANCELLED):  # CANCELLED (a Pause): no errors branch
                failure = run.state.current
                break
            state = worst(state, run.state.current)
        if failure is None:
            return state
        running_errors = errors and failure == S.FAILED and not self.killing
        if running_errors and self.step_list(errors, [], parent, value) is None:
            return None
        return failure

    def step_flowable(self, run: TaskRun, task: FlowableTask) -> None:
        if run.state.current in (S.CREATED, S.RESTARTED):
            self.set_state(run, S.RUNNING)
        try:
            result = flowables.step(self, task, run)
        except (flowables.FlowableError, RenderError) as exc:
            self.log(run, LogLevel.ERROR, str(exc))
            result = S.FAILED
        if result is not None:
            self._state.loops.pop(run.id, None)
            self.set_state(run, allowed(task, result))

    def start(self, task: Task, parent: TaskRun | None, value: str | None, iteration: int | None = None) -> TaskRun:
        run = TaskRun(
            id=self.new_id(),
            execution_id=self.ex.id,
            namespace=self.ex.namespace,
            flow_id=self.ex.flow_id,
            task_id=task.id,
            parent_task_run_id=parent.id if parent else None,
            value=value,
            iteration=iteration,
            state=State.new(self.now),
        )
        self._state.add(run)
        self._touch(run)
        if not run_if.runs(self, run, task):
            return run
        if isinstance(task, FlowableTask):
            self.step_flowable(run, task)
        else:
            self.dispatch(run, task)
        return run

    def dispatch(self, run: TaskRun, task: Task) -> None:
        run.attempts.append(Attempt(state=State.new(self.now)))
        self._state.attempt_opened(run)
        self._touch(run)
        if isinstance(task, ExecutionUpdatingTask):
            self._update_execution(run, task)
            return
        context = run_context(self.base(), self._state, self.plan, run, task, attempts_count=len(run.attempts) - 1)
        # The `WorkerJob` JSON, made directly: the task run as it is now, the task's JSON made once per flow.
        encoded = b'{"taskRun":%b,"attempt":%d,"task":%b,"context":%b}' % (
            run.to_json(),
            len(run.attempts),
            self.plan.task_blob(task),
            orjson.dumps(context, default=str),
        )
        if len(encoded) > MAX_RECORD_BYTES:
            self._too_big(run, task, len(encoded))
            return
        self.out.encoded.append((run.id, encoded))

    def _update_execution(self, run: TaskRun, task: ExecutionUpdatingTask) -> None:
        """An execution-updating task (Labels) runs here, in the decision: its attempt RUNNING, then SUCCESS
        with the execution changed, or FAILED with the reason (then retries and allowFailure apply)."""
        attempt = run.attempts[-1]
        attempt.state = attempt.state.to(S.RUNNING, self.now)
        if run.state.current in (S.CREATED, S.RETRYING, S.RESTARTED):
            self.set_state(run, S.RUNNING)
        context = run_context(self.base(), self._state, self.plan, run, task, attempts_count=len(run.attempts) - 1)
        context[NOW_KEY] = self.now
        try:
            labels = updating.update(task, self.ex, context)
        except (updating.UpdateError, RenderError) as exc:
            attempt.error = str(exc)
            state = S.FAILED
            self.log(run, LogLevel.ERROR, attempt.error)
        else:
            self.ex.labels = labels
            self.header_changed = True
            self._base = None  # `{{ labels }}` of what renders next
            state = S.SUCCESS
        attempt.state = attempt.state.to(state, self.now)
        self._state.attempt_closed(run)
        if state == S.FAILED:
            self._state.record_error(error_entry(self.ex.id, run, len(run.attempts), attempt))
        self._attempt_ended(run, task, state)

    def _too_big(self, run: TaskRun, task: Task, size: int) -> None:
        """A job whose context (the outputs its task reads) exceeds the record bound is not sent: it fails."""
        attempt = run.attempts[-1]
        attempt.error = (
            f"task {task.id}: its job would be {size:,} bytes, more than the bound of {MAX_RECORD_BYTES:,} bytes "
            "of a Kafka record (the outputs it reads are too large; storage for large outputs comes later)"
        )
        attempt.state = attempt.state.to(S.RUNNING, self.now).to(S.FAILED, self.now)
        self._state.attempt_closed(run)
        self._state.record_error(error_entry(self.ex.id, run, len(run.attempts), attempt))
        self.log(run, LogLevel.ERROR, attempt.error)
        if run.state.current not in (S.RUNNING,):
            self.set_state(run, S.RUNNING)
        self.set_state(run, allowed(task, S.FAILED))

    def kill_run(self, run: TaskRun) -> None:
        if run.attempts and not run.attempts[-1].state.terminal:
            attempt = run.attempts[-1]
            if attempt.state.current == S.CREATED:
                attempt.state = attempt.state.to(S.RUNNING, self.now)
            attempt.state = attempt.state.to(S.KILLED, self.now)
            self._state.attempt_closed(run)
        if run.state.current in (S.CREATED, S.RETRYING, S.RESTARTED):  # no attempt of it is running
            self.set_state(run, S.KILLED)
        else:
            if run.state.current not in (S.RUNNING, S.KILLING):
                self.set_state(run, S.RUNNING)
            self.set_state(run, S.KILLED)

    def _finish(self, result: StateType) -> None:
        if self.killing:
            result = S.KILLED
        if result == S.FAILED and flow_retry.schedule(self):
            return
        if result in (S.SUCCESS, S.WARNING) and self.flow.outputs:
            try:
                self.ex.outputs = self._flow_outputs()
            except (RenderError, InputError) as exc:
                self.log(None, LogLevel.ERROR, f"flow outputs: {exc}")
                self.ex.outputs = None
                result = S.FAILED
        self.set_execution_state(result)
        self.cancel_timers()
        if epilogue.starts_after(self):
            self.advance()

    def _flow_outputs(self) -> dict[str, Any]:
        ctx = self._world({**self.base(), "outputs": whole_outputs(self._state), NOW_KEY: self.now})
        rendered = {o.id: render_value(o.value, ctx, f"outputs.{o.id}") for o in self.flow.outputs}
        return typed_outputs(self.flow.outputs, rendered)

    # ---- the rules' operations
    def base(self) -> dict[str, Any]:
        if self._base is None:
            self._base = base_context(self.ex, self.flow)
        return self._base

    def own_context(self, run: TaskRun, task: Task) -> dict[str, Any]:
        return self._world(run_context(self.base(), self._state, self.plan, run, task))

    def context_for(self, run: TaskRun) -> dict[str, Any]:
        ctx = run_context(self.base(), self._state, self.plan, run, self.task(run.task_id), everything=True)
        ctx[NOW_KEY] = self.now
        return self._world(ctx)

    def _world(self, ctx: dict[str, Any]) -> dict[str, Any]:
        """A context the executor renders with (never one it sends): with the KV store `kv()` reads."""
        if self.env.kv is not None:
            ctx[KV_KEY] = self.env.kv
        return ctx

    def set_outputs(self, run: TaskRun, outputs: dict[str, Any]) -> None:
        run.outputs = outputs
        self._touch(run)

    def set_execution_state(self, state: StateType, when: datetime | None = None) -> None:
        self.ex.state = self.ex.state.to(state, when or self.now)
        self.header_changed = True
        self._base = None
        if self.ex.state.terminal:
            concurrency.ended(self)
            ended = subflows.ended_event(self.ex)
            if ended is not None:
                self.out.events.append(ended)

    def set_execution_outputs(self, outputs: dict[str, Any] | None) -> None:
        self.ex.outputs = outputs
        self.header_changed = True

    def start_timer(self, due: datetime, purpose: str, ref: str | None = None) -> Timer:
        timer = Timer(id=self.new_id(), due=due, purpose=purpose, ref=ref)
        self._state.arm(timer)
        self.out.timers.append(timer)
        self.header_changed = True
        if ref is not None and ref in self._state.runs:
            self._touch(self._state.runs[ref])
        return timer

    def cancel_timers(self, purpose: str | None = None) -> None:
        for timer in list(self._state.timers.values()):
            if purpose is None or timer.purpose == purpose:
                self._state.disarm(timer.id)
                if timer.ref is not None and timer.ref in self._state.runs:
                    self._touch(self._state.runs[timer.ref])
                self.header_changed = True

    def create_execution(self, created: ExecutionCreated) -> None:
        self.out.executions.append(created)

    def find_flow(self, namespace: str, flow_id: str, revision: int | None) -> Flow:
        return self.env.flows(namespace, flow_id, revision)

    def request_kill(self, execution_id: str) -> None:
        event_id = derived_id("kill", self.ex.id, execution_id)
        self.out.control.append(KillRequested(event_id=event_id, execution_id=execution_id))

    def slot(self, message: SlotRequested | SlotReleased | SlotForced) -> None:
        self.out.slots.append(message)

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

    def set_state(self, run: TaskRun, state: StateType, when: datetime | None = None) -> None:
        run.state = run.state.to(state, when or self.now)
        if run.state.terminal:
            self._state.attempt_closed(run)
        self._state.note_state(run)
        self._touch(run)

    def change_by_hand(self, run: TaskRun, state: StateType) -> None:
        run.state = run.state.changed_to(state, self.now)
        if run.attempts and run.attempts[-1].state.current != state:
            attempt = run.attempts[-1]
            attempt.state = attempt.state.changed_to(state, self.now)
        self._state.attempt_closed(run)
        self._state.note_state(run)
        self._touch(run)

    def change_execution_by_hand(self, state: StateType) -> None:
        self.ex.state = self.ex.state.changed_to(state, self.now)
        self.header_changed = True
        self._base = None

    def cancel_run_timer(self, run: TaskRun) -> None:
        timer = self._state.run_timers.get(run.id)
        if timer is not None:
            self._state.disarm(timer.id)
            self.header_changed = True
            self._touch(run)

    def touch(self, run: TaskRun) -> None:
        self._touch(run)

    def _touch(self, run: TaskRun) -> None:
        self.changed[run.id] = run
        self.progress = True
        self._state.mark(run)


# What each kind of event does to the execution (an event of another kind, none: the flow is only stepped).
_ON_EVENT: dict[type[Any], Callable[[Decider, Any], None]] = {
    ExecutionCreated: Decider._on_created,
    TaskResult: Decider._on_result,
    TimerFired: Decider._on_timer,
    KillRequested: Decider._on_kill,
    RestartRequested: Decider._on_restart,
    WorkerLost: lost.worker_lost,
    PauseRequested: Decider._on_pause,
    UnqueueRequested: Decider._on_unqueue,
    ResumeRequested: pause.resume,
    ChangeStateRequested: change_state.change_state,
    SubflowEnded: Decider._on_child_ended,
    SlotDecided: Decider._on_slot,
}
