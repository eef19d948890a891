"""What the CLI and the API prepare before steering an execution (`common.control` sends it): the typed
`onResume` inputs of a resume, and the new execution of a replay.

- **Resume**: each PAUSED Pause task run's `onResume` declarations type the given values as flow inputs are
  typed (`common.inputs`: defaults, `required`, rules, dotted ids); an input no paused Pause declares, or a
  value that does not fit, is refused naming the input (`ResumeInputError`: the CLI exits 2, the API 422);
  a FILE input's file is stored by `common.resume_files`, its value the file's URI.
- **Replay** (the reference's `ExecutionService.replay`): a new execution (new id, `originalId` the replayed
  one, same inputs, labels and flow revision, `metadata.attemptNumber` + 1) whose task runs are copies (new
  ids) of those created before the chosen one, its parents marked RESTARTED so that they are stepped again;
  the chosen task run and everything created after it are left out, so the flow runs again from it. Without
  a chosen task run, nothing is kept: the flow runs again from the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conveyor.common.clock import utcnow
from conveyor.common.errors import InputError
from conveyor.common.flow import Flow
from conveyor.common.ids import new_id
from conveyor.common.input_types import InputType
from conveyor.common.inputs import InputProblems, parse_inputs
from conveyor.common.model import Execution, TaskRun
from conveyor.common.state import TRANSITIONS, State, StateType
from conveyor.common.tasks import registry
from conveyor.common.tasks.base import Task
from conveyor.common.tasks.flowable import Pause

S = StateType


class ResumeInputError(InputError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def _pauses(flow_json: dict[str, Any], paused: Iterable[TaskRun]) -> tuple[Flow, list[Pause]]:
    """The flow, and the Pause tasks of the paused task runs."""
    registry.resolve()  # the task types a flow definition validates against
    flow = Flow.model_validate(flow_json)
    tasks: dict[str, Task] = {task.id: task for task in flow.all_tasks()}
    return flow, [t for t in (tasks.get(run.task_id) for run in paused) if isinstance(t, Pause)]


def on_resume_types(flow_json: dict[str, Any], paused: Iterable[TaskRun]) -> dict[str, InputType]:
    """The type of each `onResume` input the paused Pauses declare, by id."""
    _, pauses = _pauses(flow_json, paused)
    return {spec.id: spec.type for pause in pauses for spec in pause.on_resume}


def resume_inputs(flow_json: dict[str, Any], paused: Iterable[TaskRun], raw: dict[str, Any]) -> dict[str, Any]:
    """By Pause task id, its `onResume` values typed; raises `ResumeInputError` naming a bad input."""
    flow, pauses = _pauses(flow_json, paused)
    declared = {spec.id for pause in pauses for spec in pause.on_resume}
    for name in raw:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ResumeInputError(f"inputs.{name}", f"unknown onResume input '{name}' (declared: {known})")
    out: dict[str, Any] = {}
    for pause in pauses:
        if not pause.on_resume:
            continue
        own = {spec.id for spec in pause.on_resume}
        try:
            out[pause.id] = parse_inputs(
                flow.model_copy(update={"inputs": pause.on_resume}), {k: v for k, v in raw.items() if k in own}
            )
        except InputProblems as exc:
            name = next((n for n, _ in exc.problems if n), "")
            problems = "; ".join(f"onResume input '{n}': {m}" if n else m for n, m in exc.problems)
            raise ResumeInputError(f"inputs.{name}" if name else "inputs", f"task {pause.id}: {problems}") from None
    return out


def replay(execution: Execution, runs: list[TaskRun], task_run_id: str | None) -> tuple[Execution, list[TaskRun]]:
    """The replay's new header (RESTARTED, not yet running) and the task runs it keeps."""
    now = utcnow()
    new = new_id()
    ordered = sorted(runs, key=lambda r: r.state.histories[0].date if r.state.histories else now)
    kept: list[TaskRun] = []
    if task_run_id is not None:
        by_id = {run.id: run for run in ordered}
        ancestors: set[str] = set()
        parent = by_id[task_run_id].parent_task_run_id
        while parent is not None and parent in by_id:
            ancestors.add(parent)
            parent = by_id[parent].parent_task_run_id
        ids = {run.id: new_id() for run in ordered}
        for run in ordered:
            if run.id == task_run_id:
                break
            copy = run.model_copy(
                deep=True,
                update={
                    "id": ids[run.id],
                    "execution_id": new,
                    "parent_task_run_id": ids.get(run.parent_task_run_id) if run.parent_task_run_id else None,
                },
            )
            if run.id in ancestors and S.RESTARTED in TRANSITIONS[copy.state.current]:
                copy.state = copy.state.to(S.RESTARTED, now)
            kept.append(copy)
    metadata = execution.metadata.model_copy(
        update={
            "attempt_number": execution.metadata.attempt_number + 1,
            "original_created_date": execution.metadata.original_created_date or execution.state.start_date,
        }
    )
    header = execution.model_copy(
        update={
            "id": new,
            "original_id": execution.id,
            "state": State.new(now, S.RESTARTED),
            "outputs": None,
            "revision": 0,
            "task_run_count": len(kept),
            "task_run_list": [],
            "metadata": metadata,
        }
    )
    return header, kept
