"""Whole executions, as users see them, from what the executor publishes in parts.

The `executions` topic carries an execution's header (no task runs, with `taskRunCount`), the `taskruns`
topic each task run that changed (with the execution's revision at that change). A reader that follows
both (`conveyor run`, tests, benchmarks) feeds every record to an `Assembler` and asks for the execution:
its header with the latest version of each of its task runs, in creation order.

The two topics are read independently, so the final header may be read before the last task-run changes
of the same transaction: `complete` tells when every task run is there and ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from conveyor.common.events import TaskRunChange
from conveyor.common.model import Execution, TaskRun


@dataclass
class _Parts:
    header: Execution | None = None
    runs: dict[str, tuple[int, TaskRun]] = field(default_factory=dict)


@dataclass
class Assembler:
    # Only these executions are kept (None: every execution read).
    wanted: set[str] | None = None
    _parts: dict[str, _Parts] = field(default_factory=dict)

    # Headers of later attempts (flow-level retry) of the kept executions, by id, until they are wanted.
    _later: dict[str, Execution] = field(default_factory=dict)

    def header(self, value: bytes) -> Execution:
        execution = Execution.model_validate_json(value)
        if execution.metadata.attempt_number > 1 and not self._keeps(execution.id):
            self._later[execution.id] = execution
        if self._keeps(execution.id):
            parts = self._parts.setdefault(execution.id, _Parts())
            if parts.header is None or execution.revision >= parts.header.revision:
                parts.header = execution
        return execution

    def task_run(self, value: bytes) -> str | None:
        """Feed a `taskruns` record; the execution id it belongs to (None if not kept)."""
        execution_id = orjson.loads(value).get("taskRun", {}).get("executionId")
        if not isinstance(execution_id, str) or not self._keeps(execution_id):
            return None
        change = TaskRunChange.model_validate_json(value)
        runs = self._parts.setdefault(execution_id, _Parts()).runs
        known = runs.get(change.task_run.id)
        if known is None or change.revision >= known[0]:
            runs[change.task_run.id] = (change.revision, change.task_run)
        return execution_id

    def header_of(self, execution_id: str) -> Execution | None:
        parts = self._parts.get(execution_id)
        return parts.header if parts else None

    def successor(self, retried: Execution) -> str | None:
        """The id of the execution that retries `retried` (same `originalId`, next attempt), once seen."""
        root = retried.original_id or retried.id
        for candidate in self._later.values():
            if (
                candidate.original_id == root
                and candidate.metadata.attempt_number == retried.metadata.attempt_number + 1
            ):
                return candidate.id
        return None

    def want(self, execution_id: str, task_runs: list[bytes]) -> None:
        """Keep this execution too, starting from its header seen so far and these `taskruns` records."""
        if self.wanted is not None:
            self.wanted.add(execution_id)
        later = self._later.pop(execution_id, None)
        parts = self._parts.setdefault(execution_id, _Parts())
        if later is not None and (parts.header is None or later.revision >= parts.header.revision):
            parts.header = later
        for value in task_runs:
            self.task_run(value)

    def _keeps(self, execution_id: str) -> bool:
        return self.wanted is None or execution_id in self.wanted

    def execution(self, execution_id: str) -> Execution | None:
        parts = self._parts.get(execution_id)
        if parts is None or parts.header is None:
            return None
        ordered = sorted((run for _, run in parts.runs.values()), key=lambda r: r.state.histories[0].date)
        return parts.header.model_copy(update={"task_run_list": ordered})

    def complete(self, execution_id: str) -> bool:
        """The execution has ended and every one of its task runs is here, ended."""
        parts = self._parts.get(execution_id)
        if parts is None or parts.header is None or not parts.header.state.terminal:
            return False
        runs = parts.runs.values()
        return len(runs) >= parts.header.task_run_count and all(run.state.terminal for _, run in runs)

    def count(self, execution_id: str) -> int:
        """How many of the execution's task runs have been read."""
        parts = self._parts.get(execution_id)
        return len(parts.runs) if parts else 0

    def forget(self, execution_id: str) -> None:
        self._parts.pop(execution_id, None)
