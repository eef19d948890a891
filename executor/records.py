"""The executor's state on the compacted `executor-state` topic: one record per part of an execution.

| key | value |
|---|---|
| `{executionId}` | the header: `{"execution": <Execution without task runs>, "applied", "timers", "errors", …}` |
| `{executionId}/flow` | the flow definition the execution runs (written once) |
| `{executionId}/r/{taskRunId}` | `{"taskRun": <TaskRun>, "timer": <its retry timer or null>}` |

Every record goes to the partition of the execution's events, so that the owner of that partition rebuilds
the execution from it. A decision rewrites the header and the task runs it changed, nothing else: no
record grows with the number of task runs. When the execution ends every key gets a tombstone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from conveyor.common.events import Timer
from conveyor.common.model import Execution, TaskRun
from conveyor.executor.state import ExecutionState

log = logging.getLogger(__name__)

FLOW = "flow"
RUN = "r"


def header_key(execution_id: str) -> str:
    return execution_id


def flow_key(execution_id: str) -> str:
    return f"{execution_id}/{FLOW}"


def run_key(execution_id: str, run_id: str) -> str:
    return f"{execution_id}/{RUN}/{run_id}"


def header_value(state: ExecutionState, header_json: bytes) -> bytes:
    timers = b",".join(t.to_json() for t in state.execution_timers.values())
    return b'{"execution":%b,"applied":%b,"timers":[%b],"errors":%b,"restoring":%d,"restartId":%b,"then":%b%b}' % (
        header_json,
        orjson.dumps(state.applied),
        timers,
        orjson.dumps(state.errors),
        state.restoring,
        orjson.dumps(state.restart_id),
        orjson.dumps(state.then),
        b',"after":true' if state.after else b"",
    )


def run_value(state: ExecutionState, run: TaskRun, run_json: bytes) -> bytes:
    return run_record(state, run.id, run_json)


def run_record(state: ExecutionState, run_id: str, run_json: bytes) -> bytes:
    """The value of a task run's record: its JSON and its retry timer."""
    timer = state.run_timers.get(run_id)
    return b'{"taskRun":%b,"timer":%b}' % (run_json, timer.to_json() if timer else b"null")


def keys(state: ExecutionState) -> list[str]:
    """Every key the execution has records under (for its tombstones)."""
    execution_id = state.header.id
    return [header_key(execution_id), flow_key(execution_id), *(run_key(execution_id, r) for r in state.runs)]


@dataclass
class _Parts:
    header: dict[str, Any] | None = None
    flow: dict[str, Any] | None = None
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)


def rebuild(records: Iterable[tuple[str, bytes | None]]) -> dict[str, ExecutionState]:
    """The executions held by these records (in offset order; a tombstone deletes its key)."""
    parts: dict[str, _Parts] = {}
    for key, value in records:
        execution_id, _, rest = key.partition("/")
        entry = parts.setdefault(execution_id, _Parts())
        try:
            decoded = orjson.loads(value) if value is not None else None
        except orjson.JSONDecodeError as exc:
            log.error("unreadable executor state record %s: %s", key, exc)
            continue
        if not rest:
            entry.header = decoded
        elif rest == FLOW:
            entry.flow = decoded
        elif rest.startswith(RUN + "/"):
            run_id = rest[len(RUN) + 1 :]
            if decoded is None:
                entry.runs.pop(run_id, None)
            else:
                entry.runs[run_id] = decoded
    states: dict[str, ExecutionState] = {}
    for execution_id, entry in parts.items():
        if entry.header is None:
            continue  # ended (or a leftover of an ended execution)
        try:
            states[execution_id] = _state(entry)
        except (ValidationError, KeyError, TypeError) as exc:
            log.error("unreadable executor state for %s: %s", execution_id, exc)
    return states


def _state(entry: _Parts) -> ExecutionState:
    assert entry.header is not None
    header = Execution.model_validate(entry.header["execution"])
    state = ExecutionState(header.model_copy(update={"task_run_list": []}), entry.flow or {})
    runs = {run_id: TaskRun.model_validate(part["taskRun"]) for run_id, part in entry.runs.items()}
    for run in _parents_first(runs):
        state.add(run)
    state.runs.compact()
    state.header.task_run_count = len(state.runs)
    for part in entry.runs.values():
        if part.get("timer"):
            timer = Timer.model_validate(part["timer"])
            state.arm(timer)
    for raw in entry.header.get("timers", []):
        state.arm(Timer.model_validate(raw))
    state.applied = list(entry.header.get("applied", []))
    state.errors = list(entry.header.get("errors", []))
    state.restoring = int(entry.header.get("restoring", 0))
    state.restart_id = entry.header.get("restartId")
    state.then = entry.header.get("then")
    state.after = bool(entry.header.get("after"))
    return state


def _parents_first(runs: dict[str, TaskRun]) -> list[TaskRun]:
    """The runs with every parent before its children, otherwise in creation order."""
    ordered = sorted(runs.values(), key=lambda r: r.state.histories[0].date)
    placed: dict[str, None] = {}
    out: list[TaskRun] = []

    def place(run: TaskRun) -> None:
        if run.id in placed:
            return
        parent = runs.get(run.parent_task_run_id) if run.parent_task_run_id else None
        if parent is not None:
            place(parent)
        placed[run.id] = None
        out.append(run)

    for run in ordered:
        place(run)
    return out
