"""The rules of Subflow and ForEachItem: the task runs that start other executions.

A child is an `ExecutionCreated` the decision carries (produced to `execution-events` in the batch's
transaction), with an id derived from the parent task run (and batch), so a replayed decision creates no
second child. The child records its parent in its `trigger` (type: the task's type; variables `executionId`,
`namespace`, `flowId`, `flowRevision` as the reference, plus `taskRunId`, `taskId` and, for ForEachItem,
`iteration`). When the child ends, its executor sends a `SubflowEnded` keyed by the parent's id
(`ended_event`), which `child_ended` applies to the parent task run.

Subflow keeps its child's id (and, once it ended, its state and outputs) in its outputs. ForEachItem's rule
is `executor.items` (it uses the helpers here). Killing the parent asks each running child to be killed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.common.errors import InputError, RenderError
from conveyor.common.events import ExecutionCreated, SubflowEnded
from conveyor.common.flow import Flow
from conveyor.common.ids import derived_id
from conveyor.common.launch import CORRELATION_ID, new_execution
from conveyor.common.model import Attempt, Execution, ExecutionTrigger, TaskRun
from conveyor.common.render import render, render_value
from conveyor.common.retry import RetryBehavior
from conveyor.common.state import State, StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.subflow import (
    FOREACHITEM_TYPES,
    PHASE,
    REFUSED,
    RESTART,
    RESTARTED,
    SUBFLOW_TYPES,
    ForEachItem,
    Subflow,
)
from conveyor.executor import loops
from conveyor.executor.values import FlowableError

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType
TERMINAL = (S.SUCCESS, S.WARNING, S.FAILED, S.KILLED, S.CANCELLED)


# ---- Subflow
def subflow(d: Rules, task: Subflow, run: TaskRun) -> StateType | None:
    out = run.outputs or {}
    child_id = out.get("executionId")
    if PHASE in out and "state" not in out:
        return _restarting(d, run, out)
    if child_id is None:
        if d.killing:
            d.cancel_run_timer(run)
            return S.KILLED
        if run.state.current == S.RETRYING:
            waiting = d.state.run_timers.get(run.id)
            if waiting is not None and waiting.purpose == loops.TIMER:
                return None  # the next child starts when the retry's delay is over
            d.set_state(run, S.RUNNING)
        flow = find(d, task, run)
        created = child(d, task, run, flow, d.context_for(run), None)
        d.create_execution(created)
        d.set_outputs(run, {"executionId": created.execution_id})
        d.log(run, LogLevel.INFO, f"started {flow.namespace}.{flow.id} as execution {created.execution_id}")
        return None if task.wait else done(d, run, S.SUCCESS)
    if "state" in out:
        if PHASE in out:  # the restarted child ended before its restart job's answer (`items.job_outputs`)
            d.set_outputs(run, {key: value for key, value in out.items() if key != PHASE})
        state = guess_state(S(out["state"]), task.transmit_failed)
        if state == S.FAILED and _retried(d, task, run):
            return None
        return done(d, run, state)
    if d.killing:
        d.request_kill(str(child_id))
        return done(d, run, S.KILLED)
    return None


def _retried(d: Rules, task: Subflow, run: TaskRun) -> bool:
    """A failed child is retried as the task's `retry` (its own, a flowable ancestor's or the flow's) says:
    its attempt ends FAILED, the task run goes RETRYING, and after the delay a new child starts (a new id: the
    attempt count is part of it), as the reference retries a Subflow (RetryCaseTest.retrySubflow: three
    attempts of `maxAttempt: 3`, three children). False when no retry is left."""
    policy = d.retry_policy(task)
    if policy is None or d.killing or policy.behavior != RetryBehavior.RETRY_FAILED_TASK:
        return False
    tries = len(run.attempts) + 1  # this child's attempt
    delay = policy.next_delay(tries, d.rand, d.now, run.state.start_date or d.now)
    if delay is None:
        return False
    d.log(run, LogLevel.WARN, f"child execution {run.outputs and run.outputs.get('executionId')} failed: retried")
    done(d, run, S.FAILED)
    d.set_outputs(run, {})
    d.set_state(run, S.RETRYING)
    d.start_timer(d.now + delay, loops.TIMER, run.id)  # wakes this task run up (as a LoopUntil's)
    return True


def done(d: Rules, run: TaskRun, state: StateType) -> StateType:
    """The task run ends `state` with one more attempt of that state (as the reference records an executable
    task: one attempt per run of its children; a restart's children are the next attempt's). The attempts of
    its worker jobs (a ForEachItem's split and merge, a Subflow's restart of its child) are dropped."""
    while run.attempts and is_job(run.attempts[-1]):
        run.attempts = run.attempts[:-1]
    attempt = State.new(d.now).to(S.RUNNING, d.now)
    run.attempts = [*run.attempts, Attempt(state=attempt.to(state, d.now))]
    return state


def is_job(attempt: Attempt) -> bool:
    """An attempt of a worker job (reported by a worker, or not yet ended), not one run of the children (those
    `done` adds, ended at once)."""
    return attempt.worker_id is not None or not attempt.state.terminal


def restarted(d: Rules, task: Subflow, run: TaskRun) -> None:
    """A restart of the parent runs this task again. With `restartBehavior: RETRY_FAILED` (the default) and a
    child that ended FAILED or KILLED (or whose end the parent never heard of: it was killed with the parent),
    the child execution itself is restarted, as the reference does: a worker job of this task run reads the
    child's final snapshot back and sends its restart (`worker.runners.subflow`), and the task run waits for
    the child's next end. Otherwise (NEW_EXECUTION, no child yet) a new child starts, its id following the
    attempt count."""
    out = run.outputs or {}
    child = out.get("executionId")
    ended = out.get("state")
    if task.restart_behavior == "RETRY_FAILED" and isinstance(child, str) and ended in (None, "FAILED", "KILLED"):
        d.set_outputs(run, {"executionId": child, PHASE: RESTART})
        d.dispatch(run, task)
        return
    d.set_outputs(run, {})


def _restarting(d: Rules, run: TaskRun, out: dict[str, Any]) -> StateType | None:
    """The worker restarting the child: `restart` while its job runs, then its answer."""
    child = str(out.get("executionId"))
    phase = out.get(PHASE)
    last = run.attempts[-1] if run.attempts else None
    if phase == RESTARTED:
        d.log(run, LogLevel.INFO, f"restarted the failed child execution {child}")
        d.set_outputs(run, {"executionId": child})  # it waits for the child's next end, as for a new child
        return None
    if phase == REFUSED:
        d.log(run, LogLevel.INFO, f"child execution {child} not restarted ({out.get('reason')}): a new child starts")
        d.set_outputs(run, {})
        return None
    if last is not None and not last.state.terminal:
        if d.killing:  # the job stops with the execution's kill signal; the child may be restarted by now
            d.request_kill(child)
            return done(d, run, S.KILLED)
        return None
    return last.state.current if last is not None and last.state.current.failed else S.FAILED


def guess_state(child: StateType, transmit_failed: bool) -> StateType:
    """The task run's state for its child's: the child's when `transmitFailed` and it did not succeed, else
    SUCCESS (the reference's `ExecutableUtils.guessState`; allowFailure/allowWarning apply afterwards)."""
    if transmit_failed and child in (S.FAILED, S.KILLED, S.WARNING, S.PAUSED):
        return child
    return S.SUCCESS


# ---- children
def child_id(run: TaskRun, iteration: int | None) -> str:
    """Derived from the task run, its ended runs of children (a restart makes new children) and the batch: the
    attempts no worker ran (a ForEachItem's split or merge job is an attempt of a worker, see `executor.items`)."""
    return derived_id("subflow", run.id, str(runs_of(run)), str(iteration or 0))


def runs_of(run: TaskRun) -> int:
    """The task run's ended runs of children: the attempts no worker ran (nor any still open)."""
    return sum(1 for attempt in run.attempts if not is_job(attempt))


def find(d: Rules, task: Subflow | ForEachItem, run: TaskRun) -> Flow:
    ctx = d.context_for(run)
    namespace = render(task.namespace, ctx, task.id).strip()
    flow_id = render(task.flow_id, ctx, task.id).strip()
    try:
        flow = d.find_flow(namespace, flow_id, task.revision)
    except LookupError as exc:
        raise FlowableError(f"{_kind(task)} '{task.id}': {exc.args[0] if exc.args else exc}") from None
    if flow.disabled:
        raise FlowableError(f"{_kind(task)} '{task.id}': flow {namespace}.{flow_id} is disabled; it cannot be executed")
    return flow


def _kind(task: Subflow | ForEachItem) -> str:
    return "Subflow" if isinstance(task, Subflow) else "ForEachItem"


def child(
    d: Rules, task: Subflow | ForEachItem, run: TaskRun, flow: Flow, ctx: dict[str, Any], iteration: int | None
) -> ExecutionCreated:
    ex = d.execution
    try:
        inputs = render_value(task.inputs, ctx, task.id) if task.inputs else {}
        parent_labels = {label.key: label.value for label in ex.labels}
        labels = (
            dict(parent_labels)
            if task.inherit_labels
            else {k: v for k, v in parent_labels.items() if k.startswith("system.")}
        )
        labels.update({render(k, ctx, task.id): render(v, ctx, task.id) for k, v in task.labels.items()})
        labels.setdefault(CORRELATION_ID, parent_labels.get(CORRELATION_ID, ex.id))
        new_id = child_id(run, iteration)
        created = new_execution(
            flow, inputs, labels=labels, now=d.now, execution_id=new_id, event_id=derived_id("created", new_id)
        )
    except (InputError, RenderError) as exc:
        raise FlowableError(f"{_kind(task)} '{task.id}': inputs of {flow.namespace}.{flow.id}: {exc}") from None
    variables: dict[str, Any] = {
        "executionId": ex.id,
        "namespace": ex.namespace,
        "flowId": ex.flow_id,
        "flowRevision": ex.flow_revision,
        "taskRunId": run.id,
        "taskId": task.id,
    }
    if iteration is not None:
        variables["iteration"] = iteration
    created.execution.trigger = ExecutionTrigger(id=task.id, type=task.type, variables=variables)
    return created


# ---- the child's end, at the child and at the parent
def ended_event(ex: Execution) -> SubflowEnded | None:
    """What an ended execution started by a Subflow or ForEachItem tells its parent."""
    trigger = ex.trigger
    if trigger is None or trigger.type not in (*SUBFLOW_TYPES, *FOREACHITEM_TYPES):
        return None
    if ex.state.current == S.RETRIED:  # retried as a new execution (which keeps the trigger): that one tells
        return None
    parent, task_run_id = trigger.variables.get("executionId"), trigger.variables.get("taskRunId")
    if not isinstance(parent, str) or not isinstance(task_run_id, str):
        return None
    iteration = trigger.variables.get("iteration")
    restarts = sum(1 for entry in ex.state.histories if entry.state == S.RESTARTED)  # a restarted child ends again
    return SubflowEnded(
        event_id=derived_id("ended", ex.id, str(ex.metadata.attempt_number), *([str(restarts)] if restarts else [])),
        execution_id=parent,
        task_run_id=task_run_id,
        child_id=ex.id,
        state=ex.state.current,
        outputs=ex.outputs,
        iteration=iteration if isinstance(iteration, int) else None,
    )


def child_ended(d: Rules, event: SubflowEnded) -> None:
    run = d.state.runs.get(event.task_run_id)
    if run is None or run.state.terminal:
        return
    task = d.flow_task(run.task_id)
    out = dict(run.outputs or {})
    if isinstance(task, Subflow):
        if out.get("executionId") != event.child_id or "state" in out:
            return
        out["state"] = event.state.value
        if event.outputs:
            out["outputs"] = event.outputs
        d.set_outputs(run, out)
