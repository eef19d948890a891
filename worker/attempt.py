"""One attempt of one task run on this worker: validate the task, run it, and say how it ended.

This is where the rules that hold for every task type live, so runners and the consumer loop stay free of
them: the task `timeout`, kills, the automatic `duration` timer, and "any exception fails the attempt, never
the worker". `Attempt.run` needs no Kafka; its caller publishes what it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from conveyor.common import metrics
from conveyor.common.clock import iso_duration, utcnow
from conveyor.common.errors import ConveyorError
from conveyor.common.events import LogEntry, TaskResult, WorkerJob
from conveyor.common.expr_context import KvReader
from conveyor.common.model import MetricEntry
from conveyor.common.state import StateType
from conveyor.common.tasks import registry
from conveyor.common.tasks.base import LogLevel, Task
from conveyor.worker.errors import InvalidTask, UnknownTaskType
from conveyor.worker.runners import Runner, runner_for
from conveyor.worker.runners.base import ChildRestarts, RunContext, RunOutcome, StopReason

log = logging.getLogger(__name__)

RunnerLookup = Callable[[Task], Runner[Any]]
Publish = Callable[[WorkerJob, TaskResult], None]


class Attempt:
    def __init__(
        self,
        job: WorkerJob,
        *,
        worker_id: str | None = None,
        emit_log: Callable[[LogEntry], None] | None = None,
        runners: RunnerLookup = runner_for,
        kv: KvReader | None = None,
        publish: Publish | None = None,
        restart_execution: Callable[[str], str | None] | None = None,
        child_restarts: ChildRestarts | None = None,
    ) -> None:
        self.job = job
        self.worker_id = worker_id
        self.ctx = RunContext(job, worker_id=worker_id, emit=emit_log, kv=kv)
        self.ctx.restart_execution = restart_execution
        self.ctx.child_restarts = child_restarts
        self._runners = runners
        # A group's runner (WorkingDirectory) runs its tasks as attempts of their own and reports each.
        self.ctx.publish = publish
        self.ctx.spawn = lambda child: Attempt(
            child, worker_id=worker_id, emit_log=emit_log, runners=runners, kv=kv, publish=publish
        )
        # The (partition, offset) of every message that asked for this attempt (a redelivered job joins it).
        self.offsets: list[tuple[tuple[str, int], int]] = []
        # Created when the worker hands it to its pool, which has room: that is when it starts.
        self.started = utcnow()
        self.started_at = time.monotonic()
        # RUNNING is reported at most once and never after the end (the consumer thread reports RUNNING,
        # a pool thread the end).
        self._report = threading.Lock()
        self.running_reported = False
        self._end_reported = False

    @property
    def job_id(self) -> str:
        return self.job.job_id

    @property
    def execution_id(self) -> str:
        return self.job.task_run.execution_id

    @property
    def task_run_id(self) -> str:
        return self.job.task_run.id

    def log_extra(self) -> dict[str, Any]:
        tr = self.job.task_run
        return {
            "execution_id": tr.execution_id,
            "task_run_id": tr.id,
            "task_id": tr.task_id,
            "attempt": self.job.attempt,
            "worker_id": self.worker_id,
        }

    def stop(self, reason: StopReason) -> None:
        if self.ctx.stop(reason):
            log.info("stopping attempt %s: %s", self.job_id, reason, extra=self.log_extra())

    def running(self) -> TaskResult:
        return self._result(StateType.RUNNING, date=self.started)

    def report_running(self, publish: Publish) -> None:
        """Publish RUNNING, unless it was already, or the end was."""
        with self._report:
            if self.running_reported or self._end_reported:
                return
            self.running_reported = True
            publish(self.job, self.running())

    def report_end(self, result: TaskResult, publish: Publish) -> None:
        with self._report:
            self._end_reported = True
            publish(self.job, result)

    @metrics.timed_attempt
    def run(self) -> TaskResult | None:
        """Run to the end: the final TaskResult, or None when the attempt was abandoned at shutdown."""
        started = time.monotonic()
        task: Task | None = None
        timer: threading.Timer | None = None
        try:
            task = validate_task(self.job.task)
            self.ctx.log_level = task.log_level
            if task.timeout is not None:
                timer = threading.Timer(task.timeout.total_seconds(), self.stop, (StopReason.TIMEOUT,))
                timer.daemon = True
                timer.start()
            outcome = self._runners(task).run(task, self.ctx)
            if outcome.state is StateType.FAILED and outcome.error and self.ctx.reason is None:
                # The failure's message is also a line of the task run's log (and what `errorLogs()` shows).
                self._log_safely(LogLevel.ERROR, outcome.error)
        except Exception as exc:
            outcome = self._failure(exc)
        finally:
            if timer is not None:
                timer.cancel()
        settled = self._settle(outcome, task)
        if settled is None:
            return None
        settled = self._masked(settled)
        duration = MetricEntry(type="timer", name="duration", value=time.monotonic() - started, timestamp=utcnow())
        return self._result(
            settled.state,
            outputs=settled.outputs,
            metrics=[*self.ctx.metrics, *settled.metrics, duration],
            error=settled.error,
        )

    def _masked(self, outcome: RunOutcome) -> RunOutcome:
        """The outcome without the values `secret()` read: no output or error carries one to Kafka."""
        revealed = self.ctx.revealed
        if not revealed:
            return outcome
        return RunOutcome(
            outcome.state,
            revealed.mask(outcome.outputs) if outcome.outputs is not None else None,
            outcome.metrics,
            revealed.redact(outcome.error) if outcome.error is not None else None,
        )

    def _failure(self, exc: Exception) -> RunOutcome:
        if isinstance(exc, ConveyorError):
            message = self.ctx.redact(str(exc))
            log.info("attempt %s failed: %s", self.job_id, message, extra=self.log_extra())
        else:
            message = self.ctx.redact(f"{type(exc).__name__}: {exc}")
            log.exception("attempt %s failed: %s", self.job_id, message, extra=self.log_extra())
        self._log_safely(LogLevel.ERROR, message)
        return RunOutcome.failed(message)

    def _settle(self, outcome: RunOutcome, task: Task | None) -> RunOutcome | None:
        """The outcome once a stop is taken into account: the stop's reason wins over what the runner said."""
        reason = self.ctx.reason
        if reason is None:
            return outcome
        if reason is StopReason.SHUTDOWN:
            log.warning("abandoned attempt %s at shutdown", self.job_id, extra=self.log_extra())
            return None
        if reason is StopReason.TIMEOUT:
            limit = iso_duration(task.timeout) if task is not None and task.timeout is not None else "?"
            self._log_safely(LogLevel.ERROR, f"Timeout: the task ran longer than {limit} and was stopped")
            return RunOutcome(StateType.FAILED, outcome.outputs, error=f"Task timed out after {limit}")
        self._log_safely(LogLevel.WARN, "Killed: the execution was killed")
        return RunOutcome(StateType.KILLED, outcome.outputs)

    def _log_safely(self, level: LogLevel, message: str) -> None:
        try:
            self.ctx.log(level, message)
        except Exception:  # shipping a log line must not turn a reported failure into a lost one
            log.exception("could not publish a log line of %s", self.job_id, extra=self.log_extra())

    def _result(
        self,
        state: StateType,
        *,
        outputs: dict[str, Any] | None = None,
        metrics: list[MetricEntry] | None = None,
        error: str | None = None,
        date: datetime | None = None,
    ) -> TaskResult:
        return TaskResult(
            execution_id=self.execution_id,
            task_run_id=self.task_run_id,
            attempt=self.job.attempt,
            state=state,
            date=date or utcnow(),
            started=self.started,
            worker_id=self.worker_id,
            outputs=outputs,
            metrics=metrics or [],
            error=error,
        )


def validate_task(spec: dict[str, Any]) -> Task:
    """The job's task as its task class; `TaskError`s say why it cannot run here."""
    name = spec.get("type")
    registry.resolve()  # a group (WorkingDirectory) holds tasks of any registered type
    cls = registry.task_classes().get(name) if isinstance(name, str) else None
    if cls is None:
        raise UnknownTaskType(f"unknown task type {name!r}")
    if cls.kind != "runnable" and not getattr(cls, "on_worker", False):
        raise InvalidTask(f"task type {name!r} is flowable: the executor runs it, not a worker")
    try:
        return cls.model_validate(spec)
    except ValidationError as exc:
        raise InvalidTask(f"invalid task {spec.get('id')!r}: {exc}") from exc
