"""Runners of the KV tasks (`common/tasks/kv.py`) on the worker's `KvStore`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor.common.clock import parse_duration
from conveyor.common.kv import KvError, KvStore
from conveyor.common.namespace_access import check_kv
from conveyor.common.tasks.kv import KvDelete, KvGet, KvSet
from conveyor.worker.runners.base import RunContext, RunOutcome


def _store(ctx: RunContext) -> KvStore:
    if not isinstance(ctx.kv, KvStore):
        raise KvError(f"{ctx.task_type}: this worker has no KV store")
    return ctx.kv


def _namespace(ctx: RunContext, namespace: str | None) -> str:
    """The rendered `namespace` (the flow's by default), once the flow's namespace may use its KV store."""
    origin = ctx.job.task_run.namespace
    target = str(ctx.render(namespace)) if namespace else origin
    check_kv(target, origin)
    return target


def missing_value(namespace: str, key: str) -> str:
    """The reference's error of `Get` and `Delete` with `errorOnMissing` (its `NoSuchElementException`)."""
    return f"No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set to true"


def _flag(ctx: RunContext, value: bool | str, name: str) -> bool:
    if isinstance(value, bool):
        return value
    rendered = str(ctx.render(value)).strip().lower()
    if rendered not in ("true", "false"):
        raise KvError(f"{name}: {rendered!r} is not true or false")
    return rendered == "true"


def _ttl(ctx: RunContext, ttl: str | None) -> timedelta | None:
    if ttl is None:
        return None
    parsed: Any = parse_duration(str(ctx.render(ttl)))
    if not isinstance(parsed, timedelta) or parsed <= timedelta(0):
        raise KvError(f"ttl: {ttl!r} is not a positive ISO-8601 duration (PT1H, P1D)")
    return parsed


class KvSetRunner:
    def run(self, task: KvSet, ctx: RunContext) -> RunOutcome:
        namespace = _namespace(ctx, task.namespace)
        key = str(ctx.render(task.key))
        entry = _store(ctx).put(
            namespace,
            key,
            ctx.render(task.value),
            kv_type=str(ctx.render(task.kv_type)).upper() if task.kv_type else None,
            ttl=_ttl(ctx, task.ttl),
            overwrite=_flag(ctx, task.overwrite, "overwrite"),
            description=task.description,
        )
        ctx.log("INFO", f"set {namespace}/{key} ({entry.type.value})")
        return RunOutcome.success()


class KvGetRunner:
    def run(self, task: KvGet, ctx: RunContext) -> RunOutcome:
        namespace = _namespace(ctx, task.namespace)
        key = str(ctx.render(task.key))
        entry = _store(ctx).get(namespace, key)
        if entry is None and _flag(ctx, task.error_on_missing, "errorOnMissing"):
            return RunOutcome.failed(missing_value(namespace, key))
        return RunOutcome.success({"value": None if entry is None else entry.value})


class KvDeleteRunner:
    def run(self, task: KvDelete, ctx: RunContext) -> RunOutcome:
        namespace = _namespace(ctx, task.namespace)
        key = str(ctx.render(task.key))
        deleted = _store(ctx).delete(namespace, key)
        if not deleted and _flag(ctx, task.error_on_missing, "errorOnMissing"):
            return RunOutcome.failed(missing_value(namespace, key))
        return RunOutcome.success({"deleted": deleted})
