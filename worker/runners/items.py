"""The ForEachItem runner: the file work of a ForEachItem task run, as two worker jobs of it.

The executor sends the first job when the task run starts (outputs `phase: split`): the worker renders
`items` and `batch`, streams the file into the batch files (`conveyor.worker.items.split`) and answers the
number of batches and the batches' URI pattern, a constant-size result. Once every child ended, the executor
sends the second (`phase: merge`): the worker concatenates the children's outputs files and answers the task
run's outputs with the merged file's `uri` (`phase: merged`). The executor reads no file.

On a restart of the parent (RETRY_FAILED, FAILED_ITEMS), a third job (`phase: restart`) restarts the child
executions of the failed batches themselves (`restartBatches`), as `conveyor restart CHILD` would
(`conveyor.worker.children`): each child is looked up and made ready, then all are sent. A child that cannot be
restarted (deleted, purged, not FAILED or KILLED) is answered in `refusedBatches`, and the executor starts a new
child for its batch. So many such children that the task run could not keep their batches as `MAX_RANGES`
ranges: nothing is sent and the answer says so (`refusedBatches: null`); the executor then runs every batch
again. A child already restarted since the task run's restart (the job run again after a lost worker, or
retried after it failed part way) counts as restarted and is not restarted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.common import batches
from conveyor.common.model import Execution
from conveyor.common.state import StateType
from conveyor.common.storage import ExecutionScope
from conveyor.common.storage.items import batch_uri, extension
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
    ForEachItem,
)
from conveyor.worker import items
from conveyor.worker.runners.base import Prepared, RunContext, RunOutcome


class ForEachItemRunner:
    def run(self, task: ForEachItem, ctx: RunContext) -> RunOutcome:
        run = ctx.job.task_run
        scope = ExecutionScope(run.namespace, run.flow_id, run.execution_id)
        out = dict(run.outputs or {})
        if out.get(PHASE) == MERGE:
            try:
                merged = items.merge_outputs(scope, task.id, run.id)
            except Exception as exc:  # the storage: a backend error, a file gone
                return RunOutcome.failed(f"ForEachItem '{task.id}': cannot merge the children's outputs: {exc}")
            out[PHASE] = MERGED
            if merged is not None:
                out["uri"] = merged
            return RunOutcome.success(out)
        if out.get(PHASE) == RESTART:
            return _restart(task, ctx, out)
        return _split(task, ctx, scope)


def _restart(task: ForEachItem, ctx: RunContext, out: dict[str, Any]) -> RunOutcome:
    run = ctx.job.task_run
    restarts = ctx.child_restarts
    if restarts is None:
        return RunOutcome.failed(f"ForEachItem '{task.id}': this worker cannot restart executions")
    base = int(out[CHILD_RUN])
    replaced: batches.Ranges = out.get(REPLACED) or []
    since = _restarted_at(run.state.histories)
    ready: list[Prepared] = []
    refused: batches.Ranges = []
    numbers = list(batches.numbers(out.get(RESTART_BATCHES) or []))
    ids = [batches.child_id(run.id, batches.generation_of(replaced, base, i), i) for i in numbers]
    for iteration, child, prepared in zip(numbers, ids, restarts.prepare(ids), strict=True):
        if restarted_since(prepared.execution, since):
            continue  # by this job before: its worker was lost, or it failed and is retried
        if prepared.events is not None:
            ready.append(prepared)
        else:
            ctx.log(LogLevel.INFO, f"batch {iteration}: child execution {child} cannot be restarted: {prepared.reason}")
            refused = batches.add_to_ranges(refused, iteration)
    if len(batches.with_generation(replaced, refused, -1)) > batches.MAX_RANGES:
        ctx.log(LogLevel.WARN, "too many children cannot be restarted: every batch runs again")
        return RunOutcome.success({PHASE: RESTARTED, REFUSED_BATCHES: None})
    if ctx.stopped.is_set():  # killed meanwhile: send nothing (the parent's kill reaches the children it knows)
        return RunOutcome.failed(f"ForEachItem '{task.id}': stopped before its children were restarted")
    restarts.send(ready)
    ctx.log(LogLevel.INFO, f"restart of {len(ready)} failed child execution(s) sent")
    return RunOutcome.success({PHASE: RESTARTED, REFUSED_BATCHES: refused})


def _restarted_at(histories: list[Any]) -> datetime | None:
    """When the task run was last restarted (its last RESTARTED entry)."""
    dates = [entry.date for entry in histories if entry.state == StateType.RESTARTED]
    return dates[-1] if dates else None


def restarted_since(child: Execution | None, since: datetime | None) -> bool:
    """The child went RESTARTED at or after `since`: restarted for this restart of the parent already (by this
    job run before, on a worker that was lost)."""
    if child is None or since is None:
        return False
    return any(e.state == StateType.RESTARTED and e.date >= since for e in child.state.histories)


def _split(task: ForEachItem, ctx: RunContext, scope: ExecutionScope) -> RunOutcome:
    run = ctx.job.task_run
    source = str(ctx.render(task.items)).strip()
    try:
        size = _batch(task, ctx)
        count = items.split(
            source, scope, task.id, run.id, separator=task.batch.separator, stopped=ctx.stopped.is_set, **size
        )
    except items.ItemsError as exc:
        return RunOutcome.failed(f"ForEachItem '{task.id}': {exc}")
    except Exception as exc:  # the storage: a missing file, a backend error
        return RunOutcome.failed(f"ForEachItem '{task.id}': cannot split {source}: {exc}")
    ctx.log(LogLevel.INFO, f"{source} split into {count} batches")
    pattern = batch_uri(scope, task.id, run.id, extension(source), "{iteration}")
    return RunOutcome.success({"numberOfBatches": count, "batchUri": pattern})


def _batch(task: ForEachItem, ctx: RunContext) -> dict[str, Any]:
    batch = task.batch
    if batch.bytes is not None:
        return {"max_bytes": items.parse_bytes(_rendered(batch.bytes, ctx))}
    if batch.partitions is not None:
        return {"partitions": _number(batch.partitions, ctx, "partitions")}
    return {"rows": _number(batch.rows, ctx, "rows")}


def _rendered(value: str | int, ctx: RunContext) -> str | int:
    return str(ctx.render(value)).strip() if isinstance(value, str) else value


def _number(value: str | int, ctx: RunContext, what: str) -> int:
    rendered = _rendered(value, ctx)
    try:
        number = int(rendered)
    except ValueError:
        raise items.ItemsError(f"batch.{what} must be a whole number, got {rendered!r}") from None
    if number < 1:
        raise items.ItemsError(f"batch.{what} must be at least 1, got {number}")
    return number
