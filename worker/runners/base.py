"""What a runner is given and what it gives back.

A runner runs one runnable task type: `run(task, ctx) -> RunOutcome`. It renders properties through
`ctx.render`, logs through `ctx.log`, reports metrics through `ctx.metric`, and watches `ctx.stopped`, which
is set when the attempt is killed, times out or the worker shuts down. How the attempt then ends is the
worker's business (`ctx.reason`), not the runner's: a runner that notices `stopped` just returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

from conveyor.common import input_secrets
from conveyor.common.clock import utcnow
from conveyor.common.events import LogEntry, TaskResult, WorkerJob
from conveyor.common.expr_context import KV_KEY, REVEALED_KEY, KvReader, Revealed
from conveyor.common.model import Execution, MetricEntry
from conveyor.common.render import render_value
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel, Task

log = logging.getLogger(__name__)

T_contra = TypeVar("T_contra", bound=Task, contravariant=True)


class StopReason(StrEnum):
    KILLED = "killed"
    TIMEOUT = "timeout"
    # The worker is shutting down and its grace period is over: the attempt is abandoned, not reported.
    SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class RunOutcome:
    state: StateType
    outputs: dict[str, Any] | None = None
    metrics: list[MetricEntry] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def success(cls, outputs: dict[str, Any] | None = None) -> RunOutcome:
        return cls(StateType.SUCCESS, outputs)

    @classmethod
    def failed(cls, error: str, outputs: dict[str, Any] | None = None) -> RunOutcome:
        return cls(StateType.FAILED, outputs, error=error)


class GroupMember(Protocol):
    """One task of a group, run as an attempt of its own (`conveyor.worker.attempt.Attempt`)."""

    def run(self) -> TaskResult | None: ...

    def running(self) -> TaskResult: ...

    def stop(self, reason: StopReason) -> None: ...


@dataclass
class Prepared:
    """A child's restart made ready (`events`, for the control topic), or why it cannot be (`reason`); the
    child's latest header when it was found."""

    execution: Execution | None
    events: list[tuple[str, bytes]] | None = None
    reason: str | None = None


class ChildRestarts(Protocol):
    """Restarting many ended children for their parent (a ForEachItem's failed batches): all are looked up and
    made ready first (one answer per id, in order), then all are sent (`conveyor.worker.children`)."""

    def prepare(self, execution_ids: list[str]) -> list[Prepared]: ...

    def send(self, ready: list[Prepared]) -> None: ...


class Runner(Protocol[T_contra]):
    def run(self, task: T_contra, ctx: RunContext) -> RunOutcome: ...


class RunContext:
    """One attempt's view of the world: its variables, its log and metrics, and its stop event."""

    def __init__(
        self,
        job: WorkerJob,
        *,
        worker_id: str | None = None,
        emit: Callable[[LogEntry], None] | None = None,
        kv: KvReader | None = None,
    ) -> None:
        self.job = job
        self.worker_id = worker_id
        self.task_id = job.task_run.task_id
        self.task_type = str(job.task.get("type", ""))
        # Lines below this level are dropped entirely (the task's `logLevel`, set once the task validates).
        self.log_level: LogLevel | None = None
        self.stopped = threading.Event()
        self.reason: StopReason | None = None
        self.metrics: list[MetricEntry] = []
        self._emit = emit or (lambda _: None)
        self._lock = threading.Lock()
        # The executor's `task` variable (with the canonical type name) wins over the job's own.
        self._variables = {"task": {"id": self.task_id, "type": self.task_type}, **job.context}
        # SECRET inputs are sealed in the context; their values never reach a log line.
        self._secrets = input_secrets.secrets_in(job.context.get("inputs"))
        # What `secret()` reads while this attempt renders: masked in its logs, outputs and error.
        self.revealed = Revealed()
        self._variables[REVEALED_KEY] = self.revealed
        # The KV store (`kv()` and the kv tasks); None where the worker was given none.
        self.kv = kv
        if kv is not None:
            self._variables[KV_KEY] = kv
        # Set by the worker's attempt: how a group's runner (WorkingDirectory) reports its tasks' results and
        # runs each of them as an attempt of its own (`conveyor.worker.runners.workdir`).
        self.publish: Callable[[WorkerJob, TaskResult], None] | None = None
        self.spawn: Callable[[WorkerJob], GroupMember] | None = None
        # Set by the worker: restart an ended execution by its id (a Subflow's failed child); answers None
        # once the restart was sent, else why it cannot be (`conveyor.worker.children`).
        self.restart_execution: Callable[[str], str | None] | None = None
        # Set by the worker: the same for many children at once (a ForEachItem's failed batches).
        self.child_restarts: ChildRestarts | None = None

    def stop(self, reason: StopReason) -> bool:
        """Ask the attempt to stop; the first reason wins. True when this call stopped it."""
        with self._lock:
            if self.reason is not None:
                return False
            self.reason = reason
        self.stopped.set()
        return True

    def render(self, value: Any) -> Any:
        """Render every expression inside `value`; raises `RenderError` naming the task and the expression."""
        return render_value(value, self._variables, self.task_id)

    def log(self, level: LogLevel | str, message: str) -> None:
        level = LogLevel(level)
        if self.log_level is not None and level.rank < self.log_level.rank:
            return
        tr = self.job.task_run
        self._emit(
            LogEntry(
                namespace=tr.namespace,
                flow_id=tr.flow_id,
                execution_id=tr.execution_id,
                task_id=tr.task_id,
                task_run_id=tr.id,
                attempt_number=self.job.attempt,
                level=level,
                message=self.redact(message),
                timestamp=utcnow(),
                worker_id=self.worker_id,
            )
        )

    def redact(self, text: str) -> str:
        """`text` without any secret of this attempt: SECRET inputs `********`, `secret()` values `******`."""
        if self._secrets:
            text = input_secrets.redact(text, self._secrets)
        return self.revealed.redact(text) if self.revealed else text

    def metric(
        self,
        name: str,
        value: float,
        type: Literal["counter", "timer"] = "counter",
        tags: dict[str, Any] | None = None,
    ) -> None:
        """Record a counter, or a timer in seconds; they travel with the attempt's result."""
        entry = MetricEntry(
            type=type,
            name=name,
            value=value,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            timestamp=utcnow(),
        )
        with self._lock:
            self.metrics.append(entry)
