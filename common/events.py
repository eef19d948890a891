"""What travels on Conveyor's topics: executor events, worker jobs, logs, and the executor's state.

Every event on `execution-events` carries an `eventId`, so the executor recognises a duplicate even
when it runs without transactions. `kind` tells the events apart on the wire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from conveyor.common.base import Model
from conveyor.common.concurrency import Answer
from conveyor.common.ids import new_id
from conveyor.common.model import Execution, Label, MetricEntry, TaskRun
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel


class _Event(Model):
    event_id: str = Field(default_factory=new_id)
    execution_id: str


class ExecutionCreated(_Event):
    kind: Literal["ExecutionCreated"] = "ExecutionCreated"
    execution: Execution
    # The flow definition as JSON, pinned for the whole execution.
    flow: dict[str, Any]


class TaskResult(_Event):
    """A worker's report on one attempt: RUNNING once it has run for a moment (see the worker's
    `running_report_delay`), then its final state. `started` is when the attempt started: a final report
    that comes without a RUNNING one before it still records the start."""

    kind: Literal["TaskResult"] = "TaskResult"
    task_run_id: str
    attempt: int  # 1-based attempt number
    state: StateType
    date: datetime
    started: datetime | None = None
    worker_id: str | None = None
    outputs: dict[str, Any] | None = None
    metrics: list[MetricEntry] = []
    error: str | None = None
    # Set for a task run the worker created: a task of a WorkingDirectory the worker runs as one group.
    task_id: str | None = None
    parent_task_run_id: str | None = None


# The header on an ended execution's final `executions` snapshot that holds its pinned flow (JSON), so that
# a restart can rebuild the execution after the executor has dropped its working state.
FLOW_HEADER = "conveyor.flow"
# The header on a PAUSED execution's `executions` snapshot that holds its pinned flow (JSON), so that a resume can
# type the `onResume` inputs of its Pause tasks (not FLOW_HEADER: that one marks a final snapshot).
PAUSED_FLOW_HEADER = "conveyor.pausedFlow"


class KillRequested(_Event):
    kind: Literal["KillRequested"] = "KillRequested"


class RestartRequested(_Event):
    """Restart a FAILED or KILLED execution (or start a replay: `execution` is then a new execution in state
    RESTARTED, `originalId` the replayed one, with the task runs kept from it; see `executor.restart`).

    The executor forgets an execution when it ends, so the request carries the execution's final header and
    its pinned flow definition (read by the CLI from the `executions` topic, see `FLOW_HEADER`), and its
    `taskRunCount` task runs follow in `RestoreTaskRuns` events (read from the `taskruns` topic), in chunks
    that keep every record small; the executor rebuilds its working state from them, then restarts it
    (`executor.restore`). A request whose `execution` holds its task runs (`taskRunList`) needs no chunks."""

    kind: Literal["RestartRequested"] = "RestartRequested"
    execution: Execution | None = None
    flow: dict[str, Any] | None = None
    task_run_count: int = 0


class PauseRequested(_Event):
    """Pause a RUNNING execution (`conveyor pause`): it goes PAUSED and starts nothing new until resumed; the
    attempts already running go on to their end."""

    kind: Literal["PauseRequested"] = "PauseRequested"


class UnqueueRequested(_Event):
    """Start a QUEUED execution now, past its flow's concurrency limit (`conveyor unqueue`, the reference's
    unqueue): it goes RUNNING and holds a slot until it ends (`common.concurrency.SlotForced`)."""

    kind: Literal["UnqueueRequested"] = "UnqueueRequested"


class ResumeRequested(_Event):
    """Resume a PAUSED execution (`conveyor resume`): each PAUSED Pause task run goes RUNNING again, with its
    `onResume` inputs, already typed against its declaration by the CLI or the API, as its output
    `onResume` (by task id: `inputs[taskId]`)."""

    kind: Literal["ResumeRequested"] = "ResumeRequested"
    inputs: dict[str, dict[str, Any]] = {}


class ChangeStateRequested(_Event):
    """Set a task run (`task_run_id`) to SUCCESS, WARNING or FAILED and let the execution go on from there, or,
    without a task run, an ended execution's own state (`conveyor change-state`). For an ended execution it
    carries, like `RestartRequested`, the final header and flow, and its task runs follow in `RestoreTaskRuns`
    chunks (none for a change of the execution's own state)."""

    kind: Literal["ChangeStateRequested"] = "ChangeStateRequested"
    task_run_id: str | None = None
    state: StateType
    execution: Execution | None = None
    flow: dict[str, Any] | None = None
    task_run_count: int = 0


class RestoreTaskRuns(_Event):
    """Task runs of an ended execution that a `RestartRequested` brings back (on the same topic, after it)."""

    kind: Literal["RestoreTaskRuns"] = "RestoreTaskRuns"
    restart_id: str  # the event id of the RestartRequested these belong to
    task_runs: list[TaskRun]


class WorkerLost(_Event):
    """A worker stopped beating: its running attempts of this execution are lost (see `executor.lost`)."""

    kind: Literal["WorkerLost"] = "WorkerLost"
    worker_id: str
    task_run_ids: list[str] = []


class TimerFired(_Event):
    kind: Literal["TimerFired"] = "TimerFired"
    timer_id: str


class SubflowEnded(_Event):
    """A child execution started by a Subflow or ForEachItem task run ended: sent by the child's executor to the
    parent's (keyed by the parent's execution id, so it reaches the parent's partition). `executionId` is the
    parent's; the child's id, final state, flow outputs and, for ForEachItem, its batch number come with it."""

    kind: Literal["SubflowEnded"] = "SubflowEnded"
    task_run_id: str
    child_id: str
    state: StateType
    outputs: dict[str, Any] | None = None
    iteration: int | None = None


class SlotDecided(_Event):
    """The slot keeper's answer to an execution of a flow with `concurrency` (`common.concurrency`): START (it
    holds a slot: it runs), QUEUE (it waits: QUEUED), CANCEL or FAIL (the limit is reached: it ends so).
    `date` is the keeper's, when it decided: the execution's RUNNING or QUEUED date."""

    kind: Literal["SlotDecided"] = "SlotDecided"
    answer: Answer
    date: datetime


class DeleteRequested(_Event):
    """Delete an execution (`conveyor delete`, `DELETE /api/v1/executions/{id}`): the executor that owns it drops
    its working state (an attempt still running is killed first), writes tombstones for its `executor-state`
    records, its task runs and its header, and ignores its later events. Logs, metrics and files are deleted
    by the sender, with these flags; the header's tombstone carries them (`DELETE_HEADER`) for the indexer."""

    kind: Literal["DeleteRequested"] = "DeleteRequested"
    logs: bool = True
    metrics: bool = True
    storage: bool = True


# The header on an `executions` tombstone written by a deletion: what else the indexer deletes besides the
# execution's documents and its task runs' (`logs`, `metrics`, comma-separated; empty for neither).
DELETE_HEADER = "conveyor.delete"


class KillSignal(Model):
    """Stop every attempt of this execution that runs on any worker (the `kills` topic)."""

    execution_id: str


class Heartbeat(Model):
    """A worker is alive and runs these task runs (the compacted `worker-heartbeats` topic, keyed by worker
    id, every few seconds; a tombstone when the worker leaves cleanly). Executors read them to find lost
    workers."""

    worker_id: str
    host: str
    running_task_run_ids: list[str] = []
    time: datetime


Event = Annotated[
    ExecutionCreated
    | TaskResult
    | KillRequested
    | RestartRequested
    | PauseRequested
    | UnqueueRequested
    | ResumeRequested
    | ChangeStateRequested
    | RestoreTaskRuns
    | WorkerLost
    | TimerFired
    | SubflowEnded
    | SlotDecided
    | DeleteRequested,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class WorkerJob(Model):
    """One attempt of one runnable task run, for any worker of the group."""

    task_run: TaskRun
    attempt: int
    # The task definition as JSON; the worker renders its properties with `context`.
    task: dict[str, Any]
    # The expression variables (`taskrun`, `parents`, `outputs`, `inputs`, `vars`, `execution`, `flow`...).
    context: dict[str, Any]

    @property
    def job_id(self) -> str:
        return f"{self.task_run.id}/{self.attempt}"


class LogEntry(Model):
    namespace: str
    flow_id: str
    execution_id: str
    task_id: str | None = None
    task_run_id: str | None = None
    attempt_number: int | None = None
    level: LogLevel
    message: str
    timestamp: datetime
    worker_id: str | None = None


class MetricRecord(Model):
    """A metric entry with the ids it belongs to, as published on the metrics topic."""

    namespace: str
    flow_id: str
    execution_id: str
    task_id: str
    task_run_id: str
    entry: MetricEntry


class TaskRunChange(Model):
    """A task run that changed, with the execution's revision at that change (the `taskruns` topic), and the
    id of the trigger that started its execution, if one did (so task runs filter by trigger)."""

    revision: int
    task_run: TaskRun
    trigger_id: str | None = None
    # The parent execution of an execution a Subflow or ForEachItem started (the reference's triggerExecutionId).
    trigger_execution_id: str | None = None
    # The execution's labels, copied onto each task run (the Task Runs view filters by them).
    labels: list[Label] = []


class Timer(Model):
    id: str
    due: datetime
    # What the timer is for: e.g. "retry" with the task run id in `ref`.
    purpose: str
    ref: str | None = None
