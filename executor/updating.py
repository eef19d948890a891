"""The tasks the executor runs itself because they change the running execution (`ExecutionUpdatingTask`, the
reference's `ExecutionUpdatableTask`): today the Labels task.

`labels(task, execution, context)` is pure: the execution's labels once the task's are merged in (a key it
has keeps its place and takes the new value, a new key comes last), or `UpdateError` saying why the task
fails. The decision (`decide.Decider.dispatch`) gives the task run one attempt, RUNNING then SUCCESS or
FAILED, in the same decision: no worker job. Its context is the one a worker job of the task would carry
(`own_context`: the outputs its expressions name), so its cost does not grow with the execution.

As the reference:
- `labels` is a map (keys and values rendered), a list of `{key, value}` (both rendered), or one expression
  rendering a JSON object (`"{{ inputs.labels }}"`); a rendered value is a string (`42`, `true`, `3.14`);
- a `system.` key fails the task (`System labels can only be set by Conveyor itself, offending label: …`);
- the new labels are the execution's from then on: its header (and so the executions index and its search),
  the `{{ labels }}` of every task that renders after it, and the labels copied onto each task run published
  from then on (task runs published before keep the labels they were published with: rewriting them would
  cost the size of the execution).
A value that renders a secret (`secret()`) is written `******`: labels are indexed.
"""

from __future__ import annotations

from typing import Any

import orjson

from conveyor.common.expr_context import REVEALED_KEY, Revealed
from conveyor.common.model import Execution, Label
from conveyor.common.render import render
from conveyor.common.tasks.base import ExecutionUpdatingTask
from conveyor.common.tasks.execution import Labels
from conveyor.executor.context import SYSTEM_PREFIX


class UpdateError(Exception):
    """Why an execution-updating task fails (its attempt's error)."""


def update(task: ExecutionUpdatingTask, execution: Execution, context: dict[str, Any]) -> list[Label]:
    """The execution's new labels (the only update there is today)."""
    if not isinstance(task, Labels):
        raise UpdateError(f"task {task.id}: no executor rule for {task.type}")
    return labels(task, execution, context)


def labels(task: Labels, execution: Execution, context: dict[str, Any]) -> list[Label]:
    revealed = Revealed()
    ctx = {**context, REVEALED_KEY: revealed}
    given = _rendered(task, ctx)
    bad = next((k for k in given if k.startswith(SYSTEM_PREFIX)), None)
    if bad is not None:
        raise UpdateError(
            f"System labels can only be set by Conveyor itself, offending label: {bad}={revealed.redact(given[bad])}"
        )
    if "" in given:
        raise UpdateError(f"task {task.id}: a label key cannot be empty")
    merged = {label.key: label.value for label in execution.labels}
    merged.update({revealed.redact(k): revealed.redact(v) for k, v in given.items()})
    return [Label(key=k, value=v) for k, v in merged.items()]


def _rendered(task: Labels, ctx: dict[str, Any]) -> dict[str, str]:
    where = task.id
    value = task.labels
    if isinstance(value, str):
        text = render(value, ctx, where)
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise UpdateError(f"task {where}: labels: {text!r} is not a JSON object of labels") from None
        if isinstance(parsed, list) and all(isinstance(i, dict) and {"key", "value"} <= set(i) for i in parsed):
            return {_text(i["key"]): _text(i["value"]) for i in parsed}
        if not isinstance(parsed, dict):
            raise UpdateError(f"task {where}: labels: {text!r} is not a JSON object of labels")
        return {_text(k): _text(v) for k, v in parsed.items()}
    pairs = [(item["key"], item["value"]) for item in value] if isinstance(value, list) else list(value.items())
    return {render(_text(k), ctx, where): render(_text(v), ctx, where) for k, v in pairs}


def _text(value: Any) -> str:
    """A label's key or value as a string, as the reference writes a primitive (`true`, `42`, `3.14`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


__all__ = ["UpdateError", "labels", "update"]
