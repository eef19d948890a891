"""The ForEachItem runner: the file work of a ForEachItem task run, as two worker jobs of it.

The executor sends the first job when the task run starts (outputs `phase: split`): the worker renders
`items` and `batch`, streams the file into the batch files (`conveyor.worker.items.split`) and answers the
number of batches and the batches' URI pattern, a constant-size result. Once every child ended, the executor
sends the second (`phase: merge`): the worker concatenates the children's outputs files and answers the task
run's outputs with the merged file's `uri` (`phase: merged`). The executor reads no file.
"""

from __future__ import annotations

from typing import Any

from conveyor.common.storage import ExecutionScope
from conveyor.common.storage.items import batch_uri, extension
from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.subflow import MERGE, MERGED, PHASE, ForEachItem
from conveyor.worker import items
from conveyor.worker.runners.base import RunContext, RunOutcome


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
        return _split(task, ctx, scope)


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
