"""Kill, restart, pause, resume, replay, unqueue an execution or change a state by hand, by the execution's id: the
one path `conveyor kill|restart|pause|resume|replay|unqueue|change-state` and the HTTP API's
`POST /api/v1/executions/{executionId}/kill|restart|pause|resume|replay|unqueue|state|change-status` share (look the
execution up, refuse, send).

The look-up reads the execution's latest snapshot from the compacted `executions` topic (the executor's own
record, never behind it as Elasticsearch may be). What cannot be done is refused with a message naming the
state: killing an execution that has ended, restarting one that is not FAILED or KILLED. Otherwise
`KillRequested` / `RestartRequested` goes to `execution-events`.

Requests go to the control topic, which the executor reads before the events of its partitions. A kill is
followed to its outcome (`outcome`): the execution KILLING, or an end reached first (`KillTooLate`).

Restart: the executor forgot the execution when it ended. Its final header carries the pinned flow
definition (header `conveyor.flow`); `RestartRequested` carries both and the task-run count, its task runs
follow in `RestoreTaskRuns` chunks read from `taskruns`, and the executor rebuilds the execution's working
state from them (`executor.restore`, `executor.restart`).

ControlError (ConveyorError)
├── UnknownExecution    no execution with that id (the CLI exits 2, the API answers 404)
│   └── UnknownTaskRun  no task run with that id in it (the same)
├── BadRequest          a parameter that cannot be (a state, an onResume input: exit 2, 422 naming it)
└── Refused             the execution's state does not allow it (the CLI exits 2, the API answers 409)
    └── KillTooLate     it ended before the kill was applied (the same)
Kafka being unreachable raises `KafkaError` (the CLI exits 3, the API answers 503).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from conveyor.common import resume_files, steering
from conveyor.common.errors import ConveyorError
from conveyor.common.events import (
    FLOW_HEADER,
    PAUSED_FLOW_HEADER,
    ChangeStateRequested,
    KillRequested,
    PauseRequested,
    RestartRequested,
    RestoreTaskRuns,
    ResumeRequested,
    TaskRunChange,
    UnqueueRequested,
)
from conveyor.common.kafka import lookup
from conveyor.common.kafka.follow import Follower
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution, TaskRun
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import CHANGEABLE, RESTARTABLE, StateType
from conveyor.common.storage.uri import ExecutionScope


class Action(StrEnum):
    KILL = "kill"
    RESTART = "restart"
    PAUSE = "pause"
    RESUME = "resume"
    REPLAY = "replay"
    CHANGE_STATE = "change-state"
    UNQUEUE = "unqueue"


@dataclass(frozen=True)
class Params:
    """What some requests need besides the execution: resume's `onResume` inputs (raw: strings from the CLI,
    JSON values from the API) and files (FILE inputs: stored under the execution's prefix, `common.resume_files`),
    replay's task run (None: from the start), change-state's task run (None: the execution's own state) and
    state."""

    inputs: dict[str, Any] = field(default_factory=dict)
    files: dict[str, resume_files.ResumeFile] = field(default_factory=dict)
    task_run_id: str | None = None
    state: str | None = None


class ControlError(ConveyorError):
    """The request cannot be carried out; the message says why."""


class UnknownExecution(ControlError):
    """No such execution; `str()` says where it was looked for (the CLI's user chose that cluster), `public`
    does not (the API's caller has no business knowing the Kafka address)."""

    def __init__(self, message: str, execution_id: str = "") -> None:
        super().__init__(message)
        self.public = f"no execution {execution_id}" if execution_id else message


class Refused(ControlError):
    pass


class UnknownTaskRun(UnknownExecution):
    pass


class BadRequest(ControlError):
    """A parameter that cannot be; `field` names it (`state`, `taskRunId`, `inputs.<id>`)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


class KillTooLate(Refused):
    """The kill reached the executor after the execution had ended (the CLI exits 2, the API answers 409)."""


# Task runs brought back for a restart travel in chunks of about this many bytes of JSON.
CHUNK_BYTES = 64_000


@dataclass(frozen=True)
class Found:
    """An execution's latest header, with its pinned flow once it has ended, and where the header is."""

    execution: Execution
    flow: dict[str, Any] | None
    partition: int
    offset: int
    # A replay: the id of the new execution it made.
    replay_id: str | None = None


def unknown(kafka: KafkaSettings, execution_id: str) -> UnknownExecution:
    where = f"on {kafka.bootstrap} (topic prefix {kafka.topic_prefix!r})"
    return UnknownExecution(f"no execution {execution_id} {where}", execution_id)


def latest_execution(kafka: KafkaSettings, execution_id: str) -> Found:
    """The execution's latest header and, once it has ended, its pinned flow definition."""
    record = lookup.latest(kafka, Topics.of(kafka).executions, execution_id)
    if record is None:
        raise unknown(kafka, execution_id)
    return found_in(record)


def found_in(record: lookup.Record) -> Found:
    """An `executions` record as what a request is made on."""
    execution = Execution.model_validate_json(record.value)
    raw_flow = record.headers.get(FLOW_HEADER) or record.headers.get(PAUSED_FLOW_HEADER)
    return Found(execution, json.loads(raw_flow) if raw_flow else None, record.partition, record.offset)


Sent = tuple[Found, list[tuple[str, bytes]]]


def kill_events(_: KafkaSettings, found: Found, __: Params) -> Sent:
    execution = found.execution
    state = execution.state.current
    if state.terminal:
        raise Refused(f"execution {execution.id} has already ended {state.value}: there is nothing to kill")
    return found, [(execution.id, KillRequested(execution_id=execution.id).to_json())]


def pause_events(_: KafkaSettings, found: Found, __: Params) -> Sent:
    execution = found.execution
    state = execution.state.current
    if state != StateType.RUNNING:
        raise Refused(f"execution {execution.id} is {state.value}: only a RUNNING execution can be paused")
    return found, [(execution.id, PauseRequested(execution_id=execution.id).to_json())]


def unqueue_events(_: KafkaSettings, found: Found, __: Params) -> Sent:
    execution = found.execution
    state = execution.state.current
    if state != StateType.QUEUED:
        raise Refused(f"execution {execution.id} is {state.value}: only a QUEUED execution can be unqueued")
    return found, [(execution.id, UnqueueRequested(execution_id=execution.id).to_json())]


def resume_events(kafka: KafkaSettings, found: Found, params: Params) -> Sent:
    """The resume, with each paused Pause's `onResume` inputs typed against its declaration."""
    execution = found.execution
    state = execution.state.current
    if state != StateType.PAUSED:
        raise Refused(f"execution {execution.id} is {state.value}, not PAUSED: there is nothing to resume")
    if found.flow is None:
        raise Refused(f"execution {execution.id}: its PAUSED snapshot carries no flow definition")
    paused = [run for run in _runs(kafka, execution.id) if run.state.current == StateType.PAUSED]
    try:
        placed = resume_files.place(
            steering.on_resume_types(found.flow, paused),
            params.files,
            ExecutionScope(execution.namespace, execution.flow_id, execution.id),
        )
        inputs = steering.resume_inputs(found.flow, paused, {**params.inputs, **placed.values})
        resume_files.store(placed)  # once every input fits: a refused resume stores nothing
    except steering.ResumeInputError as exc:
        raise BadRequest(exc.field, str(exc)) from None
    return found, [(execution.id, ResumeRequested(execution_id=execution.id, inputs=inputs).to_json())]


def replay_events(kafka: KafkaSettings, found: Found, params: Params) -> Sent:
    """A new execution from the ended one: the task runs before `params.task_run_id` copied, the flow run
    again from it (`common.steering.replay`), sent like a restart under the new execution's id."""
    execution, flow = found.execution, found.flow
    if not execution.state.terminal or flow is None:
        raise Refused(f"execution {execution.id} is {execution.state.current.value}: only an ended one can be replayed")
    runs = _all_runs(kafka, execution)
    if params.task_run_id is not None and params.task_run_id not in {run.id for run in runs}:
        raise UnknownTaskRun(f"execution {execution.id} has no task run {params.task_run_id}")
    header, kept = steering.replay(execution, runs, params.task_run_id)
    restart = RestartRequested(execution_id=header.id, execution=header, flow=flow, task_run_count=len(kept))
    out = [(header.id, restart.to_json())]
    for chunk in _chunks(kept):
        event = RestoreTaskRuns(execution_id=header.id, restart_id=restart.event_id, task_runs=chunk)
        out.append((header.id, event.to_json()))
    return replace(found, replay_id=header.id), out


def change_state_events(kafka: KafkaSettings, found: Found, params: Params) -> Sent:
    """A task run (or an ended execution's own state) set to SUCCESS, WARNING or FAILED; an ended execution is
    brought back with its task runs, as a restart brings it."""
    execution, flow = found.execution, found.flow
    try:
        state = StateType(params.state or "")
    except ValueError:
        state = None
    if state not in CHANGEABLE:
        raise BadRequest("state", f"state {params.state!r}: a state is changed to SUCCESS, WARNING or FAILED")
    assert state is not None
    key = execution.id
    if params.task_run_id is None:
        return found, [(key, _execution_state_event(found, state))]
    runs = _all_runs(kafka, execution) if execution.state.terminal else _runs(kafka, key)
    run = next((r for r in runs if r.id == params.task_run_id), None)
    if run is None:
        raise UnknownTaskRun(f"execution {key} has no task run {params.task_run_id}")
    if run.state.current == state:
        raise Refused(f"task run {run.id} ({run.task_id}) is already {state.value}")
    if not execution.state.terminal:
        event = ChangeStateRequested(execution_id=key, task_run_id=run.id, state=state)
        return found, [(key, event.to_json())]
    if flow is None:
        raise Refused(f"execution {key}: its final snapshot carries no flow definition")
    event = ChangeStateRequested(
        execution_id=key, task_run_id=run.id, state=state, execution=execution, flow=flow, task_run_count=len(runs)
    )
    out = [(key, event.to_json())]
    for chunk in _chunks(runs):
        out.append((key, RestoreTaskRuns(execution_id=key, restart_id=event.event_id, task_runs=chunk).to_json()))
    return found, out


def _execution_state_event(found: Found, state: StateType) -> bytes:
    execution, flow = found.execution, found.flow
    if not execution.state.terminal or flow is None:
        raise Refused(
            f"execution {execution.id} is {execution.state.current.value}: "
            "only an ended execution's own state can be changed"
        )
    if execution.state.current == state:
        raise Refused(f"execution {execution.id} is already {state.value}")
    return ChangeStateRequested(execution_id=execution.id, state=state, execution=execution, flow=flow).to_json()


def _runs(kafka: KafkaSettings, execution_id: str) -> list[TaskRun]:
    return [TaskRunChange.model_validate_json(raw).task_run for raw in task_runs(kafka, execution_id)]


def _all_runs(kafka: KafkaSettings, execution: Execution) -> list[TaskRun]:
    runs = _runs(kafka, execution.id)
    if len(runs) < execution.task_run_count:
        raise Refused(
            f"execution {execution.id}: {len(runs)} of its {execution.task_run_count} task runs found on "
            f"{Topics.of(kafka).taskruns}"
        )
    return runs


def restart_events(kafka: KafkaSettings, found: Found, _: Params) -> Sent:
    """The restart request, then the execution's task runs (read from `taskruns`) in chunks that keep every
    record under the bound."""
    refuse_restart(found)
    runs = [TaskRunChange.model_validate_json(raw).task_run for raw in task_runs(kafka, found.execution.id)]
    return found, restart_with(found, runs, Topics.of(kafka).taskruns)


def refuse_restart(found: Found) -> None:
    """Refused unless the execution ended FAILED or KILLED and its snapshot carries its flow."""
    execution = found.execution
    state = execution.state.current
    if state not in RESTARTABLE:
        what = "it has not ended" if not state.terminal else "it did not fail"
        raise Refused(
            f"execution {execution.id} is {state.value} ({what}): only a FAILED or KILLED execution can be restarted"
        )
    if found.flow is None:
        raise Refused(f"execution {execution.id}: its final snapshot carries no flow definition to restart with")


def restart_with(found: Found, runs: list[TaskRun], where: str) -> list[tuple[str, bytes]]:
    """The restart events of an execution `refuse_restart` let through, with its task runs read from `where`."""
    execution, flow = found.execution, found.flow
    if flow is None:
        raise Refused(f"execution {execution.id}: its final snapshot carries no flow definition to restart with")
    if len(runs) < execution.task_run_count:
        raise Refused(
            f"execution {execution.id}: {len(runs)} of its {execution.task_run_count} task runs found on "
            f"{where}: cannot restart it"
        )
    restart = RestartRequested(
        execution_id=execution.id, execution=execution, flow=found.flow, task_run_count=len(runs)
    )
    out = [(execution.id, restart.to_json())]
    for chunk in _chunks(runs):
        event = RestoreTaskRuns(execution_id=execution.id, restart_id=restart.event_id, task_runs=chunk)
        out.append((execution.id, event.to_json()))
    return out


def task_runs(kafka: KafkaSettings, execution_id: str) -> list[bytes]:
    """The latest `taskruns` record of each task run of the execution."""
    return lookup.task_runs(kafka, Topics.of(kafka).taskruns, execution_id)


def _chunks(runs: list[TaskRun]) -> list[list[TaskRun]]:
    chunks: list[list[TaskRun]] = []
    size = CHUNK_BYTES
    for run in runs:
        length = len(run.to_json())
        if size + length > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(run)
        size += length
    return chunks


EVENTS: dict[Action, Callable[[KafkaSettings, Found, Params], Sent]] = {
    Action.KILL: kill_events,
    Action.RESTART: restart_events,
    Action.PAUSE: pause_events,
    Action.RESUME: resume_events,
    Action.REPLAY: replay_events,
    Action.CHANGE_STATE: change_state_events,
    Action.UNQUEUE: unqueue_events,
}


def request(
    kafka: KafkaSettings,
    producer: Producer,
    action: Action,
    execution_id: str,
    authorize: Callable[[Execution], None] | None = None,
    params: Params | None = None,
) -> Found:
    """Look the execution up, refuse (`ControlError`) or send the request on the control topic and wait for
    its delivery. Answers what the request was made on: the execution's header and where it was read.
    `authorize` sees the execution before anything is sent (and raises to refuse it)."""
    found = latest_execution(kafka, execution_id)
    if authorize is not None:
        authorize(found.execution)
    found, events = EVENTS[action](kafka, found, params or Params())
    for key, event in events:
        producer.send(Topics.of(kafka).control, key, event)
    producer.flush(30)
    return found


def outcome(kafka: KafkaSettings, found: Found, timeout: float = 10.0) -> Execution | None:
    """The execution's first header after the one a kill was requested on that shows the kill applied
    (KILLING, KILLED) or an end reached before it (`check_kill` then raises `KillTooLate`); None if none came
    within `timeout`."""
    topic = Topics.of(kafka).executions
    follower = Follower(kafka, [], partitions={(topic, found.partition): found.offset + 1})
    wanted = found.execution.id.encode()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for msg in follower.poll(0.2):
                value = msg.value
                if msg.key == wanted and value is not None:
                    header = Execution.model_validate_json(value)
                    settled = header.state.terminal or header.state.current == StateType.KILLING
                    if header.revision > found.execution.revision and settled:
                        return header
    finally:
        follower.close()
    return None


def check_kill(found: Found, after: Execution | None) -> None:
    """Raise `KillTooLate` if the execution ended otherwise before the kill was applied."""
    if after is not None and after.state.terminal and after.state.current != StateType.KILLED:
        raise KillTooLate(
            f"execution {found.execution.id} ended {after.state.current.value} before the kill was applied"
        )
