"""The expression context of a task run: what `{{ taskrun }}`, `{{ parents }}`, `{{ outputs }}`... see."""

from __future__ import annotations

from typing import Any

from conveyor.common.flow import Flow
from conveyor.common.model import Execution, TaskRun
from conveyor.common.state import StateType
from conveyor.common.tasks.base import Task
from conveyor.executor.tree import RunIndex


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.isoformat().replace("+00:00", "Z"))


def base_context(execution: Execution, flow: Flow, index: RunIndex) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "execution": {
            "id": execution.id,
            "startDate": _iso(execution.state.start_date),
            "originalId": execution.original_id or execution.id,
            "state": execution.state.current.value,
        },
        "outputs": index.outputs_tree(),
        "vars": flow.variables,
        "labels": {**flow.labels, **{label.key: label.value for label in execution.labels}},
    }
    if flow.inputs:
        ctx["inputs"] = input_values(execution, flow)
    errors = error_logs(execution)
    if errors:
        ctx["_errorLogs"] = errors
    return ctx


# At most this many entries of `errorLogs()` travel in a job's context (the most recent ones).
ERROR_LOGS_SHOWN = 100


def error_logs(execution: Execution) -> list[dict[str, Any]]:
    """What `errorLogs()` returns: one ERROR line per failed attempt with a message, oldest first.

    The executor does not read the logs topic; a failed attempt's message is the line its worker logged."""
    lines = []
    for run in execution.task_run_list:
        for number, attempt in enumerate(run.attempts, start=1):
            if attempt.state.current != StateType.FAILED or not attempt.error:
                continue
            lines.append(
                {
                    "executionId": execution.id,
                    "taskId": run.task_id,
                    "taskRunId": run.id,
                    "attemptNumber": number,
                    "level": "ERROR",
                    "message": attempt.error,
                    "timestamp": _iso(attempt.state.end_date),
                }
            )
    return lines[-ERROR_LOGS_SHOWN:]


def input_values(execution: Execution, flow: Flow) -> dict[str, Any]:
    """The execution's inputs, with declared defaults injected for inputs that were not supplied."""
    values = dict(execution.inputs or {})
    for declared in flow.inputs:
        if declared.id not in values and declared.defaults is not None:
            values[declared.id] = declared.defaults
    return values


def taskrun_variable(run: TaskRun, attempts_count: int) -> dict[str, Any]:
    variable: dict[str, Any] = {
        "id": run.id,
        "startDate": _iso(run.state.start_date),
        "attemptsCount": attempts_count,
    }
    if run.value is not None:
        variable["value"] = run.value
    if run.parent_task_run_id is not None:
        variable["parentId"] = run.parent_task_run_id
    if run.iteration is not None:
        variable["iteration"] = run.iteration
    return variable


def parents_variable(run: TaskRun, index: RunIndex) -> list[dict[str, Any]]:
    """Nearest first; an ancestor counts only if it has a value or outputs."""
    parents = []
    for ancestor in index.ancestors(run):
        if ancestor.value is None and not ancestor.outputs:
            continue
        entry: dict[str, Any] = {"taskrun": {"value": ancestor.value}}
        if ancestor.outputs:
            entry["outputs"] = ancestor.outputs
        parents.append(entry)
    return parents


def run_context(
    base: dict[str, Any], run: TaskRun, task: Task, index: RunIndex, attempts_count: int | None = None
) -> dict[str, Any]:
    ctx = dict(base)
    count = attempts_count if attempts_count is not None else len(run.attempts)
    ctx["taskrun"] = taskrun_variable(run, count)
    # `{{ task.type }}` is the canonical type name, also when the flow uses an older alias.
    ctx["task"] = {"id": task.id, "type": type(task).canonical_type() if type(task).type_names else task.type}
    parents = parents_variable(run, index)
    if parents:
        ctx["parents"] = parents
        ctx["parent"] = parents[0]
    else:
        ctx["parents"] = []
    return ctx
