"""The executor's working state of one execution, kept so that the work of one event depends on what it
changes, not on how many task runs the execution has.

- `header`: the execution without its task runs (state, histories, inputs, outputs, labels, revision,
  `taskRunCount`): what the `executions` topic carries.
- `runs`: every task run by id, with indexes by (parent, task, value) and by task id.
- `loops`: the progress of each running ForEach (its rendered values, how many started, the iterations
  still open, the worst final state so far), so that a loop never scans its children.
- `active`: the task runs whose last attempt is dispatched and not ended (what a lost worker may hold).
- `timers`, `applied` (recent event ids), `errors` (the latest failed attempts' messages, `errorLogs()`).

On the compacted `executor-state` topic each part is its own record, keyed by the execution id and, for
the parts that multiply, the part's id (`executor.records`); a decision rewrites only the parts it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conveyor.common.events import Timer
from conveyor.common.model import Execution, TaskRun
from conveyor.common.state import StateType
from conveyor.common.tasks.base import Task
from conveyor.executor.runs import Runs

S = StateType
Key = tuple[str | None, str, str | None]
# At most this many entries of `errorLogs()` are kept (the most recent ones) ...
ERROR_LOGS_KEPT = 100
# ... each message cut to this many characters.
ERROR_MESSAGE_KEPT = 2000
# Event ids remembered per execution, to drop a duplicate delivered again after a failure (without
# transactions; every rule is idempotent besides, so a small window is enough).
APPLIED_KEPT = 64

# Precedence when a parent's state is computed from its children's.
SEVERITY = {S.SUCCESS: 0, S.SKIPPED: 0, S.WARNING: 1, S.PAUSED: 2, S.FAILED: 3, S.CANCELLED: 4, S.KILLED: 5}


def worst(a: StateType, b: StateType) -> StateType:
    return a if SEVERITY.get(a, 0) >= SEVERITY.get(b, 0) else b


def allowed(task: Task, state: StateType) -> StateType:
    """A final state as the task's `allowFailure` / `allowWarning` turn it."""
    if state == S.FAILED and task.allow_failure:
        state = S.WARNING
    if state == S.WARNING and task.allow_warning:
        state = S.SUCCESS
    return state


@dataclass
class Loop:
    """A ForEach's progress: `values[:started]` have started; `open` are started iterations not finished;
    `dirty` are iterations with a change beneath them since the loop was last stepped."""

    values: list[str]
    started: int = 0
    open: dict[str, None] = field(default_factory=dict)
    dirty: dict[str, None] = field(default_factory=dict)
    state: StateType = S.SUCCESS
    failed: bool = False

    @property
    def waiting(self) -> int:
        return len(self.values) - self.started

    def close(self, value: str, result: StateType) -> None:
        if self.open.pop(value, 0) is None:
            if result in (S.FAILED, S.KILLED):
                self.failed = True
            self.state = worst(self.state, result)

    @classmethod
    def resume(cls, values: list[str], started: Callable[[str], bool]) -> Loop:
        """A loop over `values` whose first iterations may have started already (a loop brought back by a
        recovery or a restart): those are open and dirty, so the next step counts the finished ones once."""
        loop = cls(values)
        while loop.started < len(values) and started(values[loop.started]):
            loop.open[values[loop.started]] = None
            loop.started += 1
        loop.dirty.update(loop.open)
        return loop

    def take_dirty(self) -> list[str]:
        taken = list(self.dirty)
        self.dirty.clear()
        return taken


@dataclass
class ExecutionState:
    header: Execution
    flow: dict[str, Any]
    # Every task run by id; the ended ones as their JSON, decoded when read (`executor.runs`).
    runs: Runs = field(default_factory=Runs)
    # Every timer by id; the same timers by the task run they retry, and the execution's own ones (kill
    # grace, new execution, continue): a record finds its timers without scanning (`arm`, `disarm`).
    timers: dict[str, Timer] = field(default_factory=dict)
    run_timers: dict[str, Timer] = field(default_factory=dict)
    execution_timers: dict[str, Timer] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    loops: dict[str, Loop] = field(default_factory=dict)
    active: dict[str, None] = field(default_factory=dict)
    # The indexes hold task-run ids (never the runs: an ended run is bytes between decisions).
    by_key: dict[Key, str] = field(default_factory=dict)
    by_task: dict[str, list[str]] = field(default_factory=dict)
    # run id -> its value path (the values of the loops around it, outermost first), and
    # (task id, a prefix of the value path) -> the runs of that task under it: `outputs` lookups.
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_prefix: dict[tuple[str, tuple[str, ...]], list[str]] = field(default_factory=dict)
    # Restoring an ended execution for a restart: how many task runs are still to come (see executor.restore).
    restoring: int = 0
    restart_id: str | None = None
    # The request (JSON) to apply once restored, when it is not a restart (a change of state by hand).
    then: dict[str, Any] | None = None
    # Loops that had more values to start than a decision starts (see `decide.MAX_STARTS`).
    continuing: dict[str, None] = field(default_factory=dict)
    # Its state is final and its afterExecution tasks run (`executor.epilogue`): not forgotten until they end.
    after: bool = False
    # The PAUSED task runs (what a resume resumes), kept by `add` and the decision's `set_state`.
    paused: dict[str, None] = field(default_factory=dict)

    @classmethod
    def create(cls, execution: Execution, flow: dict[str, Any], runs: Iterable[TaskRun] = ()) -> ExecutionState:
        header = execution.model_copy(update={"task_run_list": []})
        state = cls(header, flow)
        for run in [*execution.task_run_list, *runs]:
            state.add(run)
        state.runs.compact()
        return state

    @property
    def finished(self) -> bool:
        """Ended and nothing left to do: its final header is published and its records tombstoned."""
        return self.header.state.terminal and not self.restoring and not self.after

    # ---- task runs
    def add(self, run: TaskRun) -> None:
        known = run.id in self.runs
        self.runs.put(run)
        if not known:
            self.by_key[(run.parent_task_run_id, run.task_id, run.value)] = run.id
            self.by_task.setdefault(run.task_id, []).append(run.id)
            parent_path = self.paths.get(run.parent_task_run_id, ()) if run.parent_task_run_id else ()
            path = (*parent_path, run.value) if run.value is not None else parent_path
            self.paths[run.id] = path
            for size in range(len(path) + 1):
                self.by_prefix.setdefault((run.task_id, path[:size]), []).append(run.id)
            self.header.task_run_count = len(self.runs)
        if run.attempts and not run.attempts[-1].state.terminal and not run.state.terminal:
            self.active[run.id] = None
        self.note_state(run)

    def note_state(self, run: TaskRun) -> None:
        if run.state.current == S.PAUSED:
            self.paused[run.id] = None
        else:
            self.paused.pop(run.id, None)

    def find(self, parent_id: str | None, task_id: str, value: str | None) -> TaskRun | None:
        return self.runs.get(self.by_key.get((parent_id, task_id, value)))

    def has(self, parent_id: str | None, task_id: str, value: str | None) -> bool:
        """Whether that run exists (without decoding it)."""
        return (parent_id, task_id, value) in self.by_key

    def ancestors(self, run: TaskRun) -> Iterator[TaskRun]:
        """Nearest first."""
        parent_id = run.parent_task_run_id
        while parent_id is not None:
            parent = self.runs[parent_id]
            yield parent
            parent_id = parent.parent_task_run_id

    def value_path(self, run: TaskRun) -> tuple[str, ...]:
        """The non-null values of the run's ancestors, outermost first, then its own."""
        return self.paths[run.id]

    def under(self, task_id: str, prefix: tuple[str, ...]) -> list[TaskRun]:
        """The runs of `task_id` whose value path starts with `prefix`."""
        return [self.runs[run_id] for run_id in self.by_prefix.get((task_id, prefix), ())]

    def task_ids(self) -> list[str]:
        """The tasks that have task runs, in the order of their first run."""
        return list(self.by_task)

    def mark(self, run: TaskRun) -> None:
        """A change at `run`: every loop above it has that iteration to step again."""
        child = run
        parent_id = run.parent_task_run_id
        while parent_id is not None:
            loop = self.loops.get(parent_id)
            if loop is not None and child.value is not None:
                loop.dirty[child.value] = None
            child = self.runs[parent_id]
            parent_id = child.parent_task_run_id

    def attempt_opened(self, run: TaskRun) -> None:
        self.active[run.id] = None

    def attempt_closed(self, run: TaskRun) -> None:
        self.active.pop(run.id, None)

    def in_order(self) -> list[TaskRun]:
        """Every task run, in creation order."""
        return list(self.runs.values())

    def execution(self) -> Execution:
        """The whole execution with its task runs (for tests and tools: it copies every task run)."""
        return self.header.model_copy(update={"task_run_list": self.in_order()})

    # ---- timers
    def arm(self, timer: Timer) -> None:
        self.timers[timer.id] = timer
        if timer.ref is not None and timer.ref in self.runs:
            self.run_timers[timer.ref] = timer
        else:
            self.execution_timers[timer.id] = timer

    def disarm(self, timer_id: str) -> Timer | None:
        timer = self.timers.pop(timer_id, None)
        if timer is not None:
            self.execution_timers.pop(timer_id, None)
            if timer.ref is not None and self.run_timers.get(timer.ref) is timer:
                del self.run_timers[timer.ref]
        return timer

    # ---- errorLogs()
    def record_error(self, entry: dict[str, Any]) -> None:
        message = entry.get("message")
        if isinstance(message, str) and len(message) > ERROR_MESSAGE_KEPT:
            entry = {**entry, "message": message[: ERROR_MESSAGE_KEPT - 1] + "…"}
        self.errors.append(entry)
        del self.errors[:-ERROR_LOGS_KEPT]

    def remember(self, event_id: str) -> None:
        self.applied.append(event_id)
        del self.applied[:-APPLIED_KEPT]
