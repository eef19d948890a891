"""The interface the executor's rules work through: `executor.decide` implements it; the rules of the
flowables (`executor.flowables`), restart, lost workers and flow-level retry use only this.

A rule reads the execution (`execution`: the header; `state`: its task runs and loops) and changes it only
through these operations, so that every change is recorded (the task runs to publish, the loops to step
again) and every draw from the world (ids, the clock, randomness) comes from the decision's `Env`.
"""

from __future__ import annotations

from datetime import datetime
from random import Random
from typing import Any, Protocol

from conveyor.common.concurrency import SlotForced, SlotReleased, SlotRequested
from conveyor.common.events import ExecutionCreated, Timer
from conveyor.common.flow import Flow
from conveyor.common.model import Execution, TaskRun
from conveyor.common.retry import Retry
from conveyor.common.state import StateType
from conveyor.common.tasks.base import FlowableTask, LogLevel, Task
from conveyor.executor.state import ExecutionState


class Rules(Protocol):
    @property
    def execution(self) -> Execution: ...

    @property
    def state(self) -> ExecutionState: ...

    @property
    def flow(self) -> Flow: ...

    @property
    def now(self) -> datetime: ...

    @property
    def rand(self) -> Random: ...

    @property
    def killing(self) -> bool:
        """The execution is being killed: nothing new starts."""
        ...

    def new_id(self) -> str: ...

    def starts_left(self) -> int:
        """How many more loop iterations this decision may start."""
        ...

    def started(self, count: int, loop_run: TaskRun, more: bool) -> None:
        """`count` iterations of the loop started; `more`: it has values left that wait for the next decision."""
        ...

    def task(self, task_id: str) -> Task: ...

    def flow_task(self, task_id: str) -> Task | None:
        """The task, None if the flow has no such task."""
        ...

    def retry_policy(self, task: Task) -> Retry | None:
        """The task's retry policy: its own, else its nearest flowable ancestor's, else the flow's."""
        ...

    # ---- changes
    def set_state(self, run: TaskRun, state: StateType, when: datetime | None = None) -> None: ...

    def set_execution_state(self, state: StateType, when: datetime | None = None) -> None: ...

    def change_by_hand(self, run: TaskRun, state: StateType) -> None:
        """`conveyor change-state`: the task run (and its last attempt) set to SUCCESS, WARNING or FAILED."""
        ...

    def change_execution_by_hand(self, state: StateType) -> None:
        """`conveyor change-state` of an ended execution's own state."""
        ...

    def touch(self, run: TaskRun) -> None:
        """The task run is to be published (and its loops stepped) though nothing in it changed."""
        ...

    def cancel_run_timer(self, run: TaskRun) -> None:
        """Drop the task run's timer (a retry delay, a pause's deadline), if it has one."""
        ...

    def set_execution_outputs(self, outputs: dict[str, Any] | None) -> None: ...

    def set_outputs(self, run: TaskRun, outputs: dict[str, Any]) -> None: ...

    def start(self, task: Task, parent: TaskRun | None, value: str | None, iteration: int | None = None) -> TaskRun:
        """Create the task run (and step it at once if it is a flowable, else dispatch its first attempt)."""
        ...

    def dispatch(self, run: TaskRun, task: Task) -> None:
        """A new attempt of a runnable task run, sent to the workers."""
        ...

    def kill_run(self, run: TaskRun) -> None: ...

    def start_timer(self, due: datetime, purpose: str, ref: str | None = None) -> Timer: ...

    def cancel_timers(self, purpose: str | None = None) -> None:
        """Drop the execution's timers (of one purpose, or all)."""
        ...

    def log(self, run: TaskRun | None, level: LogLevel, message: str) -> None: ...

    def create_execution(self, created: ExecutionCreated) -> None:
        """Another execution to create (flow-level retry, a subflow), in the same transaction."""
        ...

    def find_flow(self, namespace: str, flow_id: str, revision: int | None) -> Flow:
        """A deployed flow (`revision` None: the latest); `LookupError` saying why there is none."""
        ...

    def request_kill(self, execution_id: str) -> None:
        """Ask for another execution (a child) to be killed, in the same transaction."""
        ...

    def slot(self, message: SlotRequested | SlotReleased | SlotForced) -> None:
        """Ask the slot keeper for a slot, or free one (`executor.concurrency`), in the same transaction."""
        ...

    # ---- stepping
    def step_list(
        self, tasks: list[Task], errors: list[Task], parent: TaskRun | None, value: str | None
    ) -> StateType | None: ...

    def step_flowable(self, run: TaskRun, task: FlowableTask) -> None: ...

    def own_context(self, run: TaskRun, task: Task) -> dict[str, Any]:
        """The context a worker job of the task would carry (the outputs its expressions name)."""
        ...

    def context_for(self, run: TaskRun) -> dict[str, Any]:
        """The expression context the executor renders a flowable's properties with."""
        ...
