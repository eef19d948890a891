"""Bringing an ended execution back for a restart (the shell's part; the restart rule is `executor.restart`).

The executor forgets an execution when it ends. `conveyor restart` (and the API) send `RestartRequested`
with the execution's final header and flow and its task-run count, then its task runs in `RestoreTaskRuns`
chunks read from the `taskruns` topic, all on the control topic under the execution's key (one partition,
in order). The executor keeps the execution in a *restoring* state (its records are written as they come,
so a recovery resumes the restore) until every task run is back, then applies the restart.
"""

from __future__ import annotations

from conveyor.common.events import EVENT_ADAPTER, ChangeStateRequested, Event, RestartRequested, RestoreTaskRuns
from conveyor.executor.state import ExecutionState

Restoring = RestartRequested | ChangeStateRequested


def begin(event: Restoring) -> ExecutionState:
    """The restoring state of the execution the request brings (complete when `restoring` is 0). A request
    other than a restart is kept (without the header and flow it brought) to be applied once it is whole."""
    assert event.execution is not None and event.flow is not None
    state = ExecutionState.create(event.execution, event.flow)
    state.restoring = max(event.task_run_count - len(state.runs), 0)
    state.restart_id = event.event_id
    if not isinstance(event, RestartRequested):
        state.then = event.model_dump(mode="json", by_alias=True, exclude={"execution", "flow"})
    return state


def add(state: ExecutionState, event: RestoreTaskRuns) -> bool:
    """Add a chunk; True once the last task run is back. A chunk of another restart is ignored."""
    if not state.restoring or event.restart_id != state.restart_id:
        return False
    for run in event.task_runs:
        if run.id not in state.runs:
            state.add(run)
            state.restoring -= 1
    if state.restoring <= 0:
        state.runs.compact()  # once, when the last chunk is in
        return True
    return False


def restart_event(state: ExecutionState) -> Event:
    """The request to apply once the execution is whole again (its id is the original request's)."""
    if state.then is not None:
        return EVENT_ADAPTER.validate_python(state.then)
    return RestartRequested(event_id=state.restart_id or "", execution_id=state.header.id)
