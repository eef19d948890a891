"""A pure, in-memory loop around `decide` for unit tests: jobs are "run" inline by simple fakes of the
core runnable tasks, timers fire by jumping the clock. No Kafka, no threads: only the executor's logic."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.common.errors import RenderError
from conveyor.common.events import Event, KillRequested, LogEntry, TaskResult, Timer, TimerFired, WorkerJob
from conveyor.common.flow import Flow
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.render import render, render_value
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.executor.decide import decide
from conveyor.executor.env import Env
from conveyor.executor.plan import Plan
from conveyor.executor.state import ExecutionState
from conveyor.executor.values import truthy
from conveyor.worker.attempt import validate_task
from conveyor.worker.runners import runner_for
from conveyor.worker.runners.base import RunContext

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Each simulated execution draws its ids from its own seed (reproducible, and distinct between executions).
_SEEDS = itertools.count(7)


@dataclass
class Outcome:
    state: StateType
    outputs: dict[str, Any] | None = None
    error: str | None = None
    logs: list[str] = field(default_factory=list)
    # The level of each line of `logs` (INFO when not given).
    levels: list[str] = field(default_factory=list)


def fake_run(job: WorkerJob) -> Outcome:
    task, ctx = job.task, {**job.context}
    kind = task["type"].rsplit(".", 1)[-1]
    try:
        if kind == "Return":
            fmt = task.get("format")
            return Outcome(StateType.SUCCESS, {"value": render(fmt, ctx)} if fmt is not None else None)
        if kind == "Log":
            msg = render_value(task["message"], ctx)
            lines = msg if isinstance(msg, list) else [msg]
            level = task.get("level", "INFO")
            if LogLevel(level).rank < LogLevel(task.get("logLevel", "TRACE")).rank:
                lines = []
            return Outcome(StateType.SUCCESS, logs=lines, levels=[level] * len(lines))
        if kind == "Fail":
            if task.get("condition") is not None and not truthy(render(task["condition"], ctx)):
                return Outcome(StateType.SUCCESS)
            return Outcome(StateType.FAILED, error=render(task.get("errorMessage", "Task failure"), ctx))
        if kind == "Sleep":
            return Outcome(StateType.SUCCESS)
        if kind == "ForEachItem":
            return _real_run(job)  # its split and merge read and write the storage: the worker's own runner
        if kind == "OutputValues":
            return Outcome(StateType.SUCCESS, {"values": render_value(task.get("values") or {}, ctx)})
        return Outcome(StateType.SUCCESS)
    except RenderError as exc:
        return Outcome(StateType.FAILED, error=str(exc))


def _real_run(job: WorkerJob) -> Outcome:
    task = validate_task(job.task)
    outcome = runner_for(task).run(task, RunContext(job))
    return Outcome(outcome.state, outcome.outputs, error=outcome.error)


@dataclass
class Sim:
    flow: Flow
    now: datetime = T0
    state: ExecutionState | None = None
    seed: int = field(default_factory=lambda: next(_SEEDS))
    jobs: list[WorkerJob] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)  # (task id, message)
    # Every log line as `conveyor logs --output json` shows it: worker lines, failures, executor lines.
    log_lines: list[dict[str, Any]] = field(default_factory=list)
    executor_logs: list[LogEntry] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    revisions: list[int] = field(default_factory=list)
    decisions: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.plan = Plan.of(self.flow)
        self.env = Env.seeded(self.now, self.seed)

    @property
    def execution(self) -> Execution | None:
        return self.state.execution() if self.state is not None else None

    @property
    def timers(self) -> list[Timer]:
        return list(self.state.timers.values()) if self.state is not None else []

    def send(self, event: Event) -> None:
        decision = decide(self.state, self.plan, event, self.env.at(self.now))
        self.state = decision.state
        self.decisions.append(decision)
        self.jobs.extend(decision.jobs)
        self.kills.extend(decision.kills)
        self.executor_logs.extend(decision.logs)
        self.log_lines.extend(entry.to_dict() for entry in decision.logs)
        self.revisions.append(decision.execution.revision)

    def result(self, job: WorkerJob, state: StateType, worker_id: str = "w1", **kw: Any) -> TaskResult:
        return TaskResult(
            execution_id=job.task_run.execution_id,
            task_run_id=job.task_run.id,
            attempt=job.attempt,
            state=state,
            date=self.now,
            worker_id=worker_id,
            **kw,
        )

    def take(self, worker_id: str = "w1") -> WorkerJob:
        """The first pending job, taken and reported RUNNING by `worker_id`."""
        job = self.jobs.pop(0)
        self.send(self.result(job, StateType.RUNNING, worker_id))
        return job

    def run_jobs(self, runner: Any = fake_run) -> None:
        while self.jobs:
            job = self.jobs.pop(0)
            self.now += timedelta(milliseconds=1)
            self.send(self.result(job, StateType.RUNNING))
            outcome = runner(job)
            self.logs.extend((job.task_run.task_id, line) for line in outcome.logs)
            levels = outcome.levels or ["INFO"] * len(outcome.logs)
            for level, line in zip(levels, outcome.logs, strict=True):
                self._log_line(job, level, line)
            if outcome.state == StateType.FAILED and outcome.error:
                self._log_line(job, "ERROR", outcome.error)  # as the worker logs a failed attempt
            self.now += timedelta(milliseconds=1)
            self.send(self.result(job, outcome.state, outputs=outcome.outputs, error=outcome.error))

    def _log_line(self, job: WorkerJob, level: str, message: str) -> None:
        tr = job.task_run
        self.log_lines.append(
            {"taskId": tr.task_id, "taskRunId": tr.id, "level": level, "message": message, "timestamp": self.now}
        )

    def fire_next_timer(self) -> bool:
        if not self.timers:
            return False
        timer = min(self.timers, key=lambda t: t.due)
        self.now = max(self.now, timer.due)
        self.send(TimerFired(execution_id=self.ex.id, timer_id=timer.id))
        return True

    def until_done(self, runner: Any = fake_run) -> Execution:
        for _ in range(10_000):
            self.run_jobs(runner)
            if self.ex.state.terminal or not self.fire_next_timer():
                break
        return self.ex

    def kill(self) -> None:
        self.send(KillRequested(execution_id=self.ex.id))

    @property
    def ex(self) -> Execution:
        assert self.execution is not None
        return self.execution

    def current(self) -> StateType:
        """The execution's current state. A call, not a property: a type checker narrows `sim.ex.state.current`
        after one assert and would keep that narrowing across the next `send`."""
        return self.ex.state.current

    def runs(self, task_id: str) -> list[Any]:
        return [r for r in self.ex.task_run_list if r.task_id == task_id]

    def states(self, task_id: str) -> list[StateType]:
        """The current state of each task run of `task_id`, in creation order."""
        return [r.state.current for r in self.runs(task_id)]

    def header(self) -> Execution:
        assert self.state is not None
        return self.state.header


def start(
    source: str, inputs: dict[str, Any] | None = None, typed: bool = True, labels: dict[str, str] | None = None
) -> Sim:
    flow = load_flow(source)
    sim = Sim(flow)
    sim.send(
        new_execution(
            flow, inputs, labels=labels, now=T0, typed=typed, execution_id=sim.env.ids(), event_id=sim.env.ids()
        )
    )
    return sim


def run_flow(
    source: str,
    inputs: dict[str, Any] | None = None,
    runner: Any = fake_run,
    typed: bool = True,
    labels: dict[str, str] | None = None,
) -> Sim:
    sim = start(source, inputs, typed, labels)
    sim.until_done(runner)
    return sim
