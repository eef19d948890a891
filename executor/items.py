"""The ForEachItem rule: one child execution per batch of a file's lines, the file work on workers.

The task run goes through three stages, told apart by its outputs:
1. the split: the rule dispatches a worker job of the task run itself (outputs `phase: split`); the worker
   (`worker.runners.items`) cuts `items` into batch files and answers `numberOfBatches` and `batchUri` (a
   pattern with `{iteration}`), a result of constant size. A failed split fails the task run with its error.
2. the children: counters, never a list (`iterations`: child executions by state), so each child's end costs
   the same whatever the number of batches; children start at most `starts_left()` per decision (the loops'
   bound), the rest through a `continue` timer. Each child's outputs become one small file when it ends
   (`common.storage.items.save_outputs`), and the failed batches are kept as ranges (`failedBatches`, at most
   `MAX_RANGES` of them) for a restart.
3. the merge (with `wait`), once every child ended: a second worker job concatenates the outputs files and
   answers the outputs with the merged file's `uri`; then the task run ends.
The executor reads no file: a big `items` file or a slow storage holds a worker, not the executions of the
executor's partitions. The jobs' attempts are dropped when the task run ends: it records one attempt per run
of its children, as before (and as the reference's corpus counts them).

A restart of the parent (`restarted`): with `restartBehavior` RETRY_FAILED (the default) or FAILED_ITEMS, the
child executions of the batches that FAILED or were KILLED are restarted themselves, as the reference does: a
worker job of the task run (`phase: restart`, the failed ranges in `restartBatches`) reads each child back and
sends its restart (`worker.runners.items`); the counters move those batches back to CREATED at once, and
their next ends count as the first did (a child keeps its id). The other batches' children and outputs are
kept. A batch whose child cannot be restarted (deleted, purged, not FAILED or KILLED) gets a new child, its
generation kept in `replaced` (`common.batches`). NEW_EXECUTION or ALL_ITEMS, or when the failed batches are
not known (more than `MAX_RANGES` ranges, children whose end the parent never heard of, too many children
that cannot be restarted), split the file again and start every batch again. A task run that failed in its
merge (every child ended, none failed) merges again, nothing else.

A failed split, merge or restart job is retried by the task's `retry` (`_job_retried`, the reference's retry
of its split and merge subtasks): RETRYING, then the same job again after the delay. Failed children are not.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.common import batches
from conveyor.common.events import SubflowEnded
from conveyor.common.model import Execution, TaskRun
from conveyor.common.retry import RetryBehavior
from conveyor.common.state import StateType
from conveyor.common.storage import ExecutionScope
from conveyor.common.storage.items import save_outputs
from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.subflow import (
    CHILD_RUN,
    MERGE,
    MERGED,
    PHASE,
    REFUSED_BATCHES,
    REPLACED,
    RESTART,
    RESTART_BATCHES,
    RESTARTED,
    SPLIT,
    ForEachItem,
)
from conveyor.executor.subflows import TERMINAL, child, child_id, done, find, runs_of

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType
# The most ranges of failed batches a task run keeps (past it, a restart runs every batch again): its record
# stays small whatever the number of batches.
MAX_RANGES = batches.MAX_RANGES
add_to_ranges = batches.add_to_ranges
FAILED_KEY = "failedBatches"
RERUN_KEY = "rerun"
JOB_FAILURES = "jobFailures"
_FAILED = (S.FAILED, S.KILLED)


def scope_of(ex: Execution) -> ExecutionScope:
    return ExecutionScope(ex.namespace, ex.flow_id, ex.id)


def for_each_item(d: Rules, task: ForEachItem, run: TaskRun) -> StateType | None:
    out = dict(run.outputs or {})
    if run.state.current == S.RETRYING:  # a failed split or merge waits for its retry's delay
        return _retrying(d, run)
    if "numberOfBatches" not in out:
        return _splitting(d, task, run, out)
    total = int(out["numberOfBatches"])
    if total == 0:  # no items: no child, no outputs (as the reference)
        run.outputs = None
        d.touch(run)
        return _end(d, run, S.SUCCESS)
    if "iterations" not in out:  # the split's result
        _split_done(d, task, run, out)
    if out.get(PHASE) == RESTART:
        return _restarting(d, task, run, out, total)
    if out.get(PHASE) == RESTARTED:
        if not _restart_answered(d, run, out):
            return _splitting(d, task, run, {})
        out = dict(run.outputs or {})
    return _children(d, task, run, out, total)


def _children(d: Rules, task: ForEachItem, run: TaskRun, out: dict[str, Any], total: int) -> StateType | None:
    """Once split: the children started, waited for, then merged."""
    if out.get(PHASE) in (MERGE, MERGED):
        return _merging(d, task, run, out)
    iterations: dict[str, int] = dict(out["iterations"])
    created = sum(iterations.values())
    if created < total or out.get(RERUN_KEY):
        if d.killing:
            _kill_children(d, run, total)
            return S.KILLED
        if _start_children(d, task, run, out, created, total):
            return None
    return _waited(d, task, run, total) if task.wait else _end(d, run, S.SUCCESS)


def _split_done(d: Rules, task: ForEachItem, run: TaskRun, out: dict[str, Any]) -> None:
    out["iterations"] = {"CREATED": 0, "RUNNING": 0} if task.wait else {}
    if task.wait:
        out[FAILED_KEY] = []
        out[CHILD_RUN] = runs_of(run)  # the generation of this split's children (in their ids)
    d.set_outputs(run, out)


def _retrying(d: Rules, run: TaskRun) -> StateType | None:
    if d.killing:
        d.cancel_run_timer(run)
        out = run.outputs or {}
        if out.get(PHASE) == RESTART:  # the children a failed restart job restarted before it failed
            _kill_children(d, run, int(out["numberOfBatches"]))
        return S.KILLED
    return None


def _splitting(d: Rules, task: ForEachItem, run: TaskRun, out: dict[str, Any]) -> StateType | None:
    last = run.attempts[-1] if run.attempts else None
    if out.get(PHASE) == SPLIT and last is not None:
        if not last.state.terminal:
            return None  # a worker splits (a kill reaches it with the execution's kill signal)
        if _job_retried(d, task, run, out):
            return None
        return last.state.current if last.state.current in _FAILED else S.FAILED
    if d.killing:
        return S.KILLED
    d.set_outputs(run, {PHASE: SPLIT})
    d.dispatch(run, task)
    return None


def _merging(d: Rules, task: ForEachItem, run: TaskRun, out: dict[str, Any]) -> StateType | None:
    last = run.attempts[-1] if run.attempts else None
    if out.get(PHASE) == MERGED:
        del out[PHASE]
        out.pop(JOB_FAILURES, None)
        d.set_outputs(run, out)
        return _end(d, run, _final_state(out["iterations"]) if task.transmit_failed else S.SUCCESS)
    if last is not None and not last.state.terminal:
        return None
    if _job_retried(d, task, run, out):
        return None
    return S.FAILED  # the merge job failed (its error is on its attempt)


def _job_retried(d: Rules, task: ForEachItem, run: TaskRun, out: dict[str, Any]) -> bool:
    """A failed split, merge or restart job is retried as the task's `retry` (its own, a flowable ancestor's
    or the flow's) says, as the reference retries its ForEachItem's split and merge subtasks (runnable tasks
    that take their ForEachItem's retry): the task run goes RETRYING and the same job is sent again after the
    delay (a restart job with the same batches: a child it restarted before it failed counts as restarted).
    The children are not retried (the reference's executable subtask is not). `jobFailures` counts the
    failed attempts of the current job."""
    last = run.attempts[-1] if run.attempts else None
    policy = d.retry_policy(task)
    if last is None or last.state.current != S.FAILED or policy is None or d.killing:
        return False
    if policy.behavior != RetryBehavior.RETRY_FAILED_TASK:
        return False
    tries = int(out.get(JOB_FAILURES, 0)) + 1
    delay = policy.next_delay(tries, d.rand, d.now, _started(run) or d.now)
    if delay is None:
        return False
    d.log(run, LogLevel.WARN, f"the {out.get(PHASE)} of the items failed: retried ({last.error or 'no error'})")
    d.set_outputs(run, {**out, JOB_FAILURES: tries})
    d.set_state(run, S.RETRYING)
    d.start_timer(d.now + delay, "retry", run.id)
    return True


def _started(run: TaskRun) -> datetime | None:
    """When `maxDuration` counts from: the task run's start, or its last restart (a restart's jobs are not
    refused their retry because the first run was long ago)."""
    restarts = [entry.date for entry in run.state.histories if entry.state == S.RESTARTED]
    return restarts[-1] if restarts else run.state.start_date


def _end(d: Rules, run: TaskRun, state: StateType) -> StateType:
    """The task run ends with one attempt for this run of its children: its jobs' attempts are dropped."""
    while run.attempts and run.attempts[-1].worker_id is not None and run.attempts[-1].state.terminal:
        run.attempts = run.attempts[:-1]
    return done(d, run, state)


def _waited(d: Rules, task: ForEachItem, run: TaskRun, total: int) -> StateType | None:
    """Every child started: once every one ended, the merge of their outputs on a worker."""
    out = dict(run.outputs or {})
    iterations: dict[str, int] = out["iterations"]
    ended = sum(iterations.get(state.value, 0) for state in TERMINAL)
    if ended < total:
        if d.killing:
            _kill_children(d, run, total)
            return S.KILLED
        return None
    out.pop(JOB_FAILURES, None)
    d.set_outputs(run, {**out, PHASE: MERGE})
    d.dispatch(run, task)
    return None


def _start_children(d: Rules, task: ForEachItem, run: TaskRun, out: dict[str, Any], created: int, total: int) -> bool:
    """Start the next children (as many as this decision may): the batches to run again after a restart
    first, then those never started. True while some are still to start."""
    rerun: list[list[int]] = [list(r) for r in out.get(RERUN_KEY) or []]
    room = d.starts_left()
    chosen: list[int] = []
    while rerun and len(chosen) < room:
        first, last = rerun[0]
        take = min(last - first + 1, room - len(chosen))
        chosen.extend(range(first, first + take))
        rerun[0][0] += take
        if rerun[0][0] > last:
            rerun.pop(0)
    fresh = min(total - created, room - len(chosen))
    chosen.extend(range(created + 1, created + fresh + 1))
    if chosen:
        flow = find(d, task, run)
        ctx = d.context_for(run)
        for iteration in chosen:
            extra = {"items": out["batchUri"].replace("{iteration}", str(iteration)), "iteration": iteration}
            child_ctx = {**ctx, "taskrun": {**ctx["taskrun"], **extra}}
            d.create_execution(child(d, task, run, flow, child_ctx, iteration))
        iterations: dict[str, int] = dict(out["iterations"])
        if task.wait:
            iterations["CREATED"] = iterations.get("CREATED", 0) + fresh
        else:  # not waiting, the reference counts each child a success once created
            iterations["RUNNING"] = 0
            iterations["SUCCESS"] = iterations.get("SUCCESS", 0) + fresh
        out["iterations"] = iterations
        if RERUN_KEY in out:
            out[RERUN_KEY] = rerun
            if not rerun:
                del out[RERUN_KEY]
        d.set_outputs(run, dict(out))
    more = bool(rerun) or created + fresh < total
    d.started(len(chosen), run, more=more)
    return more


def _final_state(iterations: dict[str, int]) -> StateType:
    """The worst child state (the reference's `findTerminalState`)."""
    for state in (S.FAILED, S.KILLED, S.WARNING):
        if iterations.get(state.value, 0) > 0:
            return state
    return S.SUCCESS


def _kill_children(d: Rules, run: TaskRun, created: int) -> None:
    """A kill for every child started (once: the task run ends KILLED). Those already ended ignore it."""
    out = run.outputs or {}
    for iteration in range(1, created + 1):
        d.request_kill(current_child(run, out, iteration))


def current_child(run: TaskRun, out: dict[str, Any], iteration: int) -> str:
    """The id of the batch's current child: of the split's generation, or of the one `replaced` gives it (a
    task run from before `childRun` was kept: of the task run's current run)."""
    if CHILD_RUN not in out:
        return child_id(run, iteration)
    generation = batches.generation_of(out.get(REPLACED) or [], int(out[CHILD_RUN]), iteration)
    return batches.child_id(run.id, generation, iteration)


# ---- a child's end
def child_ended(d: Rules, event: SubflowEnded) -> None:
    run = d.state.runs.get(event.task_run_id)
    if run is None or run.state.terminal or event.iteration is None:
        return
    task = d.flow_task(run.task_id)
    out = dict(run.outputs or {})
    if not isinstance(task, ForEachItem) or not task.wait or "iterations" not in out:
        return
    if event.child_id != current_child(run, out, event.iteration):
        return
    iterations = dict(out["iterations"])
    iterations["CREATED"] = max(iterations.get("CREATED", 0) - 1, 0)
    iterations[event.state.value] = iterations.get(event.state.value, 0) + 1
    if event.outputs:
        save_outputs(scope_of(d.execution), task.id, run.id, event.iteration, event.outputs)
    out["iterations"] = iterations
    if event.state in _FAILED and out.get(FAILED_KEY) is not None:
        ranges = add_to_ranges(out[FAILED_KEY], event.iteration)
        out[FAILED_KEY] = ranges if len(ranges) <= MAX_RANGES else None
    d.set_outputs(run, out)


# ---- a restart of the parent
def restarted(d: Rules, task: ForEachItem, run: TaskRun) -> None:
    """The failed batches' children restarted (RETRY_FAILED, FAILED_ITEMS) when they are known, else every
    batch again with new children."""
    out = dict(run.outputs or {})
    iterations: dict[str, int] = dict(out.get("iterations") or {})
    failed: list[list[int]] = out.get(FAILED_KEY) or []
    only_failed = task.restart_behavior in ("RETRY_FAILED", "FAILED_ITEMS") and task.wait
    known = bool(failed) and iterations.get("CREATED", 0) == 0
    if task.restart_behavior in ("RETRY_FAILED", "FAILED_ITEMS") and _merge_failed(out, iterations):
        # every child had ended and none failed: only the merge failed; it runs again, nothing is split again
        for key in (PHASE, JOB_FAILURES, "uri"):
            out.pop(key, None)
        d.set_outputs(run, out)
        d.log(run, LogLevel.INFO, "restart: the children had all ended, their outputs are merged again")
        return
    if not (only_failed and known and "numberOfBatches" in out):
        d.set_outputs(run, {})  # split again, every batch again
        return
    count = batches.count(failed)
    for state in _FAILED:
        iterations.pop(state.value, None)
    iterations["CREATED"] = count
    for key in (PHASE, JOB_FAILURES, "uri", RESTART_BATCHES, REFUSED_BATCHES):
        out.pop(key, None)
    if CHILD_RUN not in out:  # a task run from before children were restarted: new children for those batches
        d.set_outputs(run, {**out, "iterations": iterations, FAILED_KEY: [], RERUN_KEY: failed})
        d.log(run, LogLevel.INFO, f"restart: {count} failed batch(es) get a new child, the others are kept")
        return
    d.set_outputs(run, {**out, "iterations": iterations, FAILED_KEY: [], PHASE: RESTART, RESTART_BATCHES: failed})
    d.dispatch(run, task)
    d.log(run, LogLevel.INFO, f"restart: the child executions of {count} failed batch(es) are restarted")


def _restarting(d: Rules, task: ForEachItem, run: TaskRun, out: dict[str, Any], total: int) -> StateType | None:
    """A worker restarts the failed batches' children; their ends count meanwhile (`child_ended`). A failed
    job (Kafka unreachable, a storage error) is retried as the split and the merge are (`_job_retried`: the
    same job, the same batches, after the delay); past its retry it fails the task run (its error on the
    attempt)."""
    last = run.attempts[-1] if run.attempts else None
    if last is not None and not last.state.terminal:
        if d.killing:  # the job stops with the execution's kill signal; the children restarted so far too
            _kill_children(d, run, total)
            return S.KILLED
        return None
    if _job_retried(d, task, run, out):
        return None
    return last.state.current if last is not None and last.state.current in _FAILED else S.FAILED


def _restart_answered(d: Rules, run: TaskRun, out: dict[str, Any]) -> bool:
    """The restart job's answer: the batches whose child could not be restarted get a new child (of the task
    run's current run, kept in `replaced`). False when the job restarted none because too many could not be:
    every batch runs again."""
    refused: list[list[int]] | None = out.pop(REFUSED_BATCHES, None)
    failed: list[list[int]] = out.pop(RESTART_BATCHES, None) or []
    del out[PHASE]
    out.pop(JOB_FAILURES, None)
    if refused is None:
        d.log(run, LogLevel.WARN, "restart: too many children cannot be restarted: the file is split again")
        d.set_outputs(run, {})
        return False
    restarted = batches.count(failed) - batches.count(refused)
    d.log(run, LogLevel.INFO, f"restarted the child executions of {restarted} failed batch(es)")
    if refused:
        out[REPLACED] = batches.with_generation(out.get(REPLACED) or [], refused, runs_of(run))
        out[RERUN_KEY] = refused
        d.log(run, LogLevel.INFO, f"{batches.count(refused)} failed batch(es) get a new child: {refused}")
    d.set_outputs(run, out)
    return True


def job_outputs(run: TaskRun, answer: dict[str, Any]) -> dict[str, Any]:
    """A job's answer as the task run's outputs: the restart job's is merged into the outputs the executor
    kept meanwhile (its restarted children may have ended before the answer came; a Subflow's too: its
    child's `state` and `outputs` are kept); the split's and the merge's, and a refusal, replace them."""
    current = run.outputs or {}
    if current.get(PHASE) == RESTART and answer.get(PHASE) == RESTARTED:
        return {**current, **answer}
    return answer


def _merge_failed(out: dict[str, Any], iterations: dict[str, int]) -> bool:
    """The task run failed in its merge (with `wait`, every child ended) and no batch is to run again."""
    if out.get(PHASE) != MERGE or "numberOfBatches" not in out or out.get(FAILED_KEY):
        return False
    ended = sum(iterations.get(state.value, 0) for state in TERMINAL)
    return iterations.get("CREATED", 0) == 0 and ended == int(out["numberOfBatches"])
