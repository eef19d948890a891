"""The expression context of a task run: what `{{ taskrun }}`, `{{ parents }}`, `{{ outputs }}`... see."""

from __future__ import annotations

from typing import Any

from conveyor.common.flow import Flow
from conveyor.common.model import Attempt, Execution, ExecutionTrigger, TaskRun
from conveyor.common.tasks.base import Task
from conveyor.executor.plan import Plan, Reads
from conveyor.executor.state import ExecutionState


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.isoformat().replace("+00:00", "Z"))


def base_context(execution: Execution, flow: Flow) -> dict[str, Any]:
    """The part of every context that is the execution's and the flow's, not a task run's (small)."""
    ctx: dict[str, Any] = {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "execution": {
            "id": execution.id,
            "startDate": _iso(execution.state.start_date),
            "originalId": execution.original_id or execution.id,
            "state": execution.state.current.value,
        },
        "vars": flow.variables,
        "labels": label_variable({**flow.labels, **{label.key: label.value for label in execution.labels}}),
    }
    if flow.inputs:
        ctx["inputs"] = input_values(execution, flow)
    if execution.trigger is not None:
        ctx["trigger"] = trigger_variable(execution.trigger)
    return ctx


SYSTEM_PREFIX = "system."


def label_variable(labels: dict[str, str]) -> dict[str, Any]:
    """`{{ labels.* }}`: the labels by key, the `system.` ones grouped under `system` as the reference shows them
    (`{{ labels.system.correlationId }}`)."""
    out: dict[str, Any] = {}
    system: dict[str, str] = {}
    for key, value in labels.items():
        if key.startswith(SYSTEM_PREFIX):
            system[key.removeprefix(SYSTEM_PREFIX)] = value
        else:
            out[key] = value
    if system:
        out["system"] = system
    return out


def trigger_variable(trigger: ExecutionTrigger) -> dict[str, Any]:
    """`{{ trigger.* }}`: the trigger's variables, plus `date`, `next` and `previous` for a scheduled slot."""
    variable: dict[str, Any] = dict(trigger.variables)
    for name in ("date", "next", "previous"):
        value = getattr(trigger, name)
        if value is not None:
            variable[name] = _iso(value)
    return variable


def error_entry(execution_id: str, run: TaskRun, number: int, attempt: Attempt) -> dict[str, Any]:
    """What `errorLogs()` shows of a failed attempt: the ERROR line its worker logged."""
    return {
        "executionId": execution_id,
        "taskId": run.task_id,
        "taskRunId": run.id,
        "attemptNumber": number,
        "level": "ERROR",
        "message": attempt.error,
        "timestamp": _iso(attempt.state.end_date),
    }


def outputs_for(state: ExecutionState, plan: Plan, run: TaskRun | None, reads: Reads) -> dict[str, Any]:
    """The `outputs` variable as `run` sees it: `outputs[taskId]`, nested by value path inside loops.

    Only the tasks in `reads` (None: every task, whole). Of a task whose every read follows `run`'s own
    iterations (`outputs.x[taskrun.value]`, `currentEachOutput(outputs.x)`), only the runs of those
    iterations. So a context holds what its task can read, not the whole execution."""
    path = state.value_path(run) if run is not None else ()
    tree: dict[str, Any] = {}
    for name in [n for n in state.task_ids() if reads is None or n in reads]:
        own = reads is not None and reads[name] and run is not None
        prefix = path[: plan.shared_loops(name, run.task_id)] if own and run is not None else ()
        for other in state.under(name, prefix):
            if other.outputs:
                _place(tree, name, state.value_path(other), other.outputs)
    return tree


def whole_outputs(state: ExecutionState) -> dict[str, Any]:
    """The `outputs` variable with every task run's outputs (flow outputs, once, at the end)."""
    tree: dict[str, Any] = {}
    for name in state.task_ids():
        for run in state.under(name, ()):
            if run.outputs:
                _place(tree, name, state.value_path(run), run.outputs)
    return tree


def _place(tree: dict[str, Any], name: str, path: tuple[str, ...], outputs: dict[str, Any]) -> None:
    if not path:
        tree[name] = outputs
        return
    node = tree.setdefault(name, {})
    if not isinstance(node, dict):
        return
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = outputs


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


def parents_variable(run: TaskRun, state: ExecutionState) -> list[dict[str, Any]]:
    """Nearest first; an ancestor counts only if it has a value or outputs."""
    parents = []
    for ancestor in state.ancestors(run):
        if ancestor.value is None and not ancestor.outputs:
            continue
        entry: dict[str, Any] = {"taskrun": {"value": ancestor.value}}
        if ancestor.outputs:
            entry["outputs"] = ancestor.outputs
        parents.append(entry)
    return parents


def tasks_variable(state: ExecutionState, names: set[str] | None) -> dict[str, Any]:
    """`tasks.<id>.state`: the current state of each named task's latest run (None: every task's)."""
    found: dict[str, Any] = {}
    for name, ids in state.by_task.items():
        if ids and (names is None or name in names):
            latest = state.runs.get(ids[-1])  # only the named tasks' latest runs are decoded
            if latest is not None:
                found[name] = {"state": latest.state.current.value}
    return found


def run_context(
    base: dict[str, Any],
    state: ExecutionState,
    plan: Plan,
    run: TaskRun,
    task: Task,
    attempts_count: int | None = None,
    *,
    everything: bool = False,
) -> dict[str, Any]:
    """A task run's context: `base`, plus the outputs it can read (`everything`: all of them), its
    `taskrun`, `task`, `parents` and, if it calls `errorLogs()`, the execution's latest errors."""
    ctx = dict(base)
    ctx["outputs"] = outputs_for(state, plan, run, None if everything else plan.reads(task))
    if state.errors and (everything or plan.reads_errors(task)):
        ctx["_errorLogs"] = list(state.errors)
    states = None if everything else plan.reads_states(task)
    if states is None or states:
        ctx["tasks"] = tasks_variable(state, states)
    count = attempts_count if attempts_count is not None else len(run.attempts)
    ctx["taskrun"] = taskrun_variable(run, count)
    # `{{ task.type }}` is the canonical type name, also when the flow uses an older alias.
    ctx["task"] = {"id": task.id, "type": type(task).canonical_type() if type(task).type_names else task.type}
    parents = parents_variable(run, state)
    if parents:
        ctx["parents"] = parents
        ctx["parent"] = parents[0]
    else:
        ctx["parents"] = []
    return ctx
