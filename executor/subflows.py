"""The rules of Subflow and ForEachItem: the task runs that start other executions.

A child is an `ExecutionCreated` the decision carries (produced to `execution-events` in the batch's
transaction), with an id derived from the parent task run (and batch), so a replayed decision creates no
second child. The child records its parent in its `trigger` (type: the task's type; variables `executionId`,
`namespace`, `flowId`, `flowRevision` as the reference, plus `taskRunId`, `taskId` and, for ForEachItem,
`iteration`). When the child ends, its executor sends a `SubflowEnded` keyed by the parent's id
(`ended_event`), which `child_ended` applies to the parent task run.

Subflow keeps its child's id (and, once it ended, its state and outputs) in its outputs. ForEachItem keeps
counters, never a list: `numberOfBatches` and `iterations` (child executions by state), so each child's end
costs the same whatever the number of batches; children start at most `starts_left()` per decision (the
loops' bound), the rest through a `continue` timer. Killing the parent asks each running child to be killed.
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
from conveyor.common.storage import ExecutionScope
from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.subflow import FOREACHITEM_TYPES, SUBFLOW_TYPES, ForEachItem, Subflow
from conveyor.executor import items, loops
from conveyor.executor.values import FlowableError

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType
TERMINAL = (S.SUCCESS, S.WARNING, S.FAILED, S.KILLED, S.CANCELLED)


def _scope(ex: Execution) -> ExecutionScope:
    return ExecutionScope(ex.namespace, ex.flow_id, ex.id)


# ---- Subflow
def subflow(d: Rules, task: Subflow, run: TaskRun) -> StateType | None:
    out = run.outputs or {}
    child_id = out.get("executionId")
    if child_id is None:
        if d.killing:
            d.cancel_run_timer(run)
            return S.KILLED
        if run.state.current == S.RETRYING:
            waiting = d.state.run_timers.get(run.id)
            if waiting is not None and waiting.purpose == loops.TIMER:
                return None  # the next child starts when the retry's delay is over
            d.set_state(run, S.RUNNING)
        flow = _find(d, task, run)
        created = _child(d, task, run, flow, d.context_for(run), None)
        d.create_execution(created)
        d.set_outputs(run, {"executionId": created.execution_id})
        d.log(run, LogLevel.INFO, f"started {flow.namespace}.{flow.id} as execution {created.execution_id}")
        return None if task.wait else _done(d, run, S.SUCCESS)
    if "state" in out:
        state = guess_state(S(out["state"]), task.transmit_failed)
        if state == S.FAILED and _retried(d, task, run):
            return None
        return _done(d, run, state)
    if d.killing:
        d.request_kill(str(child_id))
        return _done(d, run, S.KILLED)
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
    delay = policy.delay(tries, d.rand)
    first_start = run.state.start_date or d.now
    within_count = policy.max_attempt is None or tries < policy.max_attempt
    within_time = policy.max_duration is None or (d.now + delay - first_start) <= policy.max_duration
    if not (within_count and within_time):
        return False
    d.log(run, LogLevel.WARN, f"child execution {run.outputs and run.outputs.get('executionId')} failed: retried")
    _done(d, run, S.FAILED)
    d.set_outputs(run, {})
    d.set_state(run, S.RETRYING)
    d.start_timer(d.now + delay, loops.TIMER, run.id)  # wakes this task run up (as a LoopUntil's)
    return True


def _done(d: Rules, run: TaskRun, state: StateType) -> StateType:
    """The task run ends `state` with one more attempt of that state (as the reference records an executable
    task: one attempt per run of its children; a restart's children are the next attempt's)."""
    attempt = State.new(d.now).to(S.RUNNING, d.now)
    run.attempts = [*run.attempts, Attempt(state=attempt.to(state, d.now))]
    return state


def restarted(d: Rules, run: TaskRun) -> None:
    """A restart of the parent runs this task again: new children (their ids follow the attempt count), all the
    batches again for ForEachItem, whatever `restartBehavior` says (see `Subflow.restart_behavior`)."""
    d.set_outputs(run, {})


def guess_state(child: StateType, transmit_failed: bool) -> StateType:
    """The task run's state for its child's: the child's when `transmitFailed` and it did not succeed, else
    SUCCESS (the reference's `ExecutableUtils.guessState`; allowFailure/allowWarning apply afterwards)."""
    if transmit_failed and child in (S.FAILED, S.KILLED, S.WARNING, S.PAUSED):
        return child
    return S.SUCCESS


# ---- ForEachItem
def for_each_item(d: Rules, task: ForEachItem, run: TaskRun) -> StateType | None:
    if run.outputs is None or "numberOfBatches" not in run.outputs:
        if d.killing:
            return S.KILLED
        if not _split(d, task, run):
            return S.SUCCESS  # no items: no child, no outputs (as the reference)
    out = dict(run.outputs or {})
    total = int(out["numberOfBatches"])
    iterations: dict[str, int] = dict(out["iterations"])
    created = sum(iterations.values())
    if created < total:
        if d.killing:
            _kill_children(d, run, created)
            return S.KILLED
        if _start_children(d, task, run, out, created, total):
            return None
    return _waited(d, task, run, total) if task.wait else _done(d, run, S.SUCCESS)


def _waited(d: Rules, task: ForEachItem, run: TaskRun, total: int) -> StateType | None:
    """Every child started: the end once every one ended (with the merge of their outputs)."""
    out = dict(run.outputs or {})
    iterations: dict[str, int] = out["iterations"]
    ended = sum(iterations.get(state.value, 0) for state in TERMINAL)
    if ended < total:
        if d.killing:
            _kill_children(d, run, total)
            return S.KILLED
        return None
    merged = items.merge_outputs(_scope(d.execution), task.id, run.id)
    if merged is not None:
        d.set_outputs(run, {**out, "uri": merged})
    return _done(d, run, _final_state(iterations) if task.transmit_failed else S.SUCCESS)


def _start_children(d: Rules, task: ForEachItem, run: TaskRun, out: dict[str, Any], created: int, total: int) -> bool:
    """Start the next children (as many as this decision may); True while some are still to start."""
    room = min(total - created, d.starts_left())
    if room:
        flow = _find(d, task, run)
        ctx = d.context_for(run)
        for iteration in range(created + 1, created + room + 1):
            extra = {"items": out["batchUri"].replace("{iteration}", str(iteration)), "iteration": iteration}
            child_ctx = {**ctx, "taskrun": {**ctx["taskrun"], **extra}}
            d.create_execution(_child(d, task, run, flow, child_ctx, iteration))
        iterations: dict[str, int] = dict(out["iterations"])
        if task.wait:
            iterations["CREATED"] = iterations.get("CREATED", 0) + room
        else:  # not waiting, the reference counts each child a success once created
            iterations["RUNNING"] = 0
            iterations["SUCCESS"] = iterations.get("SUCCESS", 0) + room
        out["iterations"] = iterations
        d.set_outputs(run, dict(out))
    more = created + room < total
    d.started(room, run, more=more)
    return more


def _split(d: Rules, task: ForEachItem, run: TaskRun) -> int:
    ctx = d.context_for(run)
    source = render(task.items, ctx, task.id).strip()
    batch = task.batch
    try:
        rows = max_bytes = partitions = None
        if batch.bytes is not None:
            max_bytes = items.parse_bytes(_rendered(batch.bytes, ctx, task.id))
        elif batch.partitions is not None:
            partitions = _number(batch.partitions, ctx, task.id, "partitions")
        else:
            rows = _number(batch.rows, ctx, task.id, "rows")
        scope = _scope(d.execution)
        count = items.split(
            source,
            scope,
            task.id,
            run.id,
            rows=rows,
            max_bytes=max_bytes,
            partitions=partitions,
            separator=batch.separator,
        )
    except items.ItemsError as exc:
        raise FlowableError(f"ForEachItem '{task.id}': {exc}") from None
    except Exception as exc:  # the storage: a missing file, a backend error
        raise FlowableError(f"ForEachItem '{task.id}': cannot split {source}: {exc}") from None
    if count:
        pattern = items.batch_uri(scope, task.id, run.id, items.extension(source), "{iteration}")
        iterations = {"CREATED": 0, "RUNNING": 0} if task.wait else {}
        d.set_outputs(run, {"numberOfBatches": count, "iterations": iterations, "batchUri": pattern})
    d.log(run, LogLevel.INFO, f"{source} split into {count} batches")
    return count


def _rendered(value: str | int, ctx: dict[str, Any], task_id: str) -> str | int:
    return render(value, ctx, task_id).strip() if isinstance(value, str) else value


def _number(value: str | int, ctx: dict[str, Any], task_id: str, what: str) -> int:
    rendered = _rendered(value, ctx, task_id)
    try:
        number = int(rendered)
    except ValueError:
        raise items.ItemsError(f"batch.{what} must be a whole number, got {rendered!r}") from None
    if number < 1:
        raise items.ItemsError(f"batch.{what} must be at least 1, got {number}")
    return number


def _final_state(iterations: dict[str, int]) -> StateType:
    """The worst child state (the reference's `findTerminalState`)."""
    for state in (S.FAILED, S.KILLED, S.WARNING):
        if iterations.get(state.value, 0) > 0:
            return state
    return S.SUCCESS


def _kill_children(d: Rules, run: TaskRun, created: int) -> None:
    """A kill for every child started (once: the task run ends KILLED). Those already ended ignore it."""
    for iteration in range(1, created + 1):
        d.request_kill(child_id(run, iteration))


# ---- children
def child_id(run: TaskRun, iteration: int | None) -> str:
    """Derived from the task run, its ended attempts (a restart makes new children) and the batch."""
    return derived_id("subflow", run.id, str(len(run.attempts)), str(iteration or 0))


def _find(d: Rules, task: Subflow | ForEachItem, run: TaskRun) -> Flow:
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


def _child(
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
    return SubflowEnded(
        event_id=derived_id("ended", ex.id, str(ex.metadata.attempt_number)),
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
    elif isinstance(task, ForEachItem) and task.wait and event.iteration is not None and "iterations" in out:
        if event.child_id != child_id(run, event.iteration):
            return
        iterations = dict(out["iterations"])
        iterations["CREATED"] = max(iterations.get("CREATED", 0) - 1, 0)
        iterations[event.state.value] = iterations.get(event.state.value, 0) + 1
        if event.outputs:
            items.save_outputs(_scope(d.execution), task.id, run.id, event.iteration, event.outputs)
        d.set_outputs(run, {**out, "iterations": iterations})
