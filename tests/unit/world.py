"""Several executions through `decide` at once, for Subflow and ForEachItem: the children a decision creates,
the `SubflowEnded` events and the kills it sends are delivered as the executor's shell would (each to its
execution), jobs run inline with the simulator's fakes, timers fire when nothing else is left."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from conveyor.common.events import (
    Event,
    ExecutionCreated,
    KillRequested,
    RestartRequested,
    TaskResult,
    TimerFired,
    WorkerJob,
)
from conveyor.common.flow import Flow
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.state import RESTARTABLE, StateType
from conveyor.executor.decide import decide
from conveyor.executor.env import Env
from conveyor.executor.plan import Plan
from conveyor.executor.state import ExecutionState
from conveyor.worker.attempt import validate_task
from conveyor.worker.runners import runner_for
from conveyor.worker.runners.base import Prepared, RunContext
from tests.unit.sim import T0, Outcome, fake_run


@dataclass
class World:
    flows: dict[tuple[str, str], Flow] = field(default_factory=dict)
    states: dict[str, ExecutionState] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    queue: deque[Event] = field(default_factory=deque)
    now: Any = T0
    # Jobs held back (not run) for these task ids: a child that stays RUNNING until released.
    hold: set[str] = field(default_factory=set)
    held: list[WorkerJob] = field(default_factory=list)
    created: list[ExecutionCreated] = field(default_factory=list)
    largest_event: int = 0
    restart_jobs: list[str] = field(default_factory=list)  # the children Subflow restart jobs were run for
    # The answers of these task ids' jobs are delivered only once nothing else is left (a slow worker: a child
    # it restarted ends before its answer reaches the parent).
    late: set[str] = field(default_factory=set)
    late_results: deque[TaskResult] = field(default_factory=deque)
    # The next ForEachItem restart jobs that fail (Kafka unreachable): in their look-up ("prepare"), or in
    # their sending ("send", after the first child's restart was sent).
    restart_failures: int = 0
    restart_fails_in: str = "prepare"

    def deploy(self, source: str) -> Flow:
        flow = load_flow(source)
        self.flows[(flow.namespace, flow.id)] = flow
        return flow

    def find(self, namespace: str, flow_id: str, revision: int | None) -> Flow:
        try:
            return self.flows[(namespace, flow_id)]
        except KeyError:
            raise LookupError(f"no flow {namespace}.{flow_id} is deployed") from None

    def start(
        self, source_or_flow: str | Flow, inputs: dict[str, Any] | None = None, labels: dict[str, str] | None = None
    ) -> str:
        flow = self.deploy(source_or_flow) if isinstance(source_or_flow, str) else source_or_flow
        created = new_execution(flow, inputs, labels=labels, now=self.now)
        self.queue.append(created)
        return created.execution_id

    def send(self, event: Event) -> None:
        self.largest_event = max(self.largest_event, len(event.model_dump_json(by_alias=True)))
        key = event.execution_id
        if isinstance(event, ExecutionCreated):
            if key in self.states:
                return
            self.created.append(event)
            self.plans[key] = Plan.of(Flow.model_validate(event.flow))
        state = self.states.get(key)
        if state is None and not isinstance(event, ExecutionCreated):
            return  # unknown or ended: ignored, as the executor does
        if state is not None and state.header.state.terminal and not isinstance(event, RestartRequested):
            return
        self.now += timedelta(milliseconds=1)
        decision = decide(state, self.plans[key], event, Env.live(self.now, flows=self.find))
        self.states[key] = decision.state
        self.queue.extend(decision.executions)
        self.queue.extend(decision.events)
        self.queue.extend(decision.control)
        for job in decision.jobs:
            if job.task_run.task_id in self.hold:
                self.held.append(job)
                self.queue.append(self._result(job, StateType.RUNNING, Outcome(StateType.RUNNING)))
            else:
                self.queue.append(self._result(job, StateType.RUNNING, Outcome(StateType.RUNNING)))
                outcome = self._job(job)
                answers = self.late_results if job.task_run.task_id in self.late else self.queue
                answers.append(self._result(job, outcome.state, outcome))

    def _job(self, job: WorkerJob) -> Outcome:
        if job.task["type"].endswith(".Subflow"):
            return self._restart_child(job)
        if job.task["type"].endswith(".ForEachItem") and (job.task_run.outputs or {}).get("phase") == "restart":
            return self._restart_batches(job)
        return fake_run(job)

    def _restart_batches(self, job: WorkerJob) -> Outcome:
        """A ForEachItem's restart job: the worker's own runner, restarting the children in this world."""
        task = validate_task(job.task)
        ctx = RunContext(job)
        ctx.child_restarts = _Restarts(self)
        try:
            outcome = runner_for(task).run(task, ctx)
        except Exception as exc:  # as the worker's attempt does: any exception fails the attempt
            return Outcome(StateType.FAILED, error=f"{type(exc).__name__}: {exc}")
        return Outcome(outcome.state, outcome.outputs, error=outcome.error)

    def _restart_child(self, job: WorkerJob) -> Outcome:
        """A Subflow's restart job: the worker's own runner, restarting the child in this world."""
        task = validate_task(job.task)
        ctx = RunContext(job)
        ctx.restart_execution = self._restart_one
        outcome = runner_for(task).run(task, ctx)
        return Outcome(outcome.state, outcome.outputs, error=outcome.error)

    def _restart_one(self, child: str) -> str | None:
        """As `worker.children` does it: the child's restart when it ended FAILED or KILLED, else why not."""
        state = self.states.get(child)
        self.restart_jobs.append(child)
        if state is None or state.header.state.current not in RESTARTABLE:
            return state.header.state.current.value if state is not None else "unknown"
        self.queue.append(RestartRequested(execution_id=child))
        return None

    def _result(self, job: WorkerJob, state: StateType, outcome: Outcome) -> TaskResult:
        return TaskResult(
            execution_id=job.task_run.execution_id,
            task_run_id=job.task_run.id,
            attempt=job.attempt,
            state=state,
            date=self.now,
            worker_id="w1",
            outputs=outcome.outputs,
            error=outcome.error,
        )

    def run(self, steps: int = 1_000_000) -> None:
        for _ in range(steps):
            if self.queue:
                self.send(self.queue.popleft())
                continue
            if self.late_results:
                self.send(self.late_results.popleft())
                continue
            running = [(key, s) for key, s in self.states.items() if not s.header.state.terminal]
            due = [(t.due, key, t.id) for key, s in running for t in s.timers.values()]
            if not due:
                return
            when, key, timer_id = min(due)
            self.now = max(self.now, when)
            self.send(TimerFired(execution_id=key, timer_id=timer_id))

    def release(self, job: WorkerJob) -> None:
        """Run a held job now (and no longer hold its task's next jobs)."""
        self.held.remove(job)
        self.hold.discard(job.task_run.task_id)
        outcome = fake_run(job)
        self.queue.append(self._result(job, outcome.state, outcome))

    def restart(self, execution_id: str) -> None:
        self.queue.append(RestartRequested(execution_id=execution_id))

    def kill(self, execution_id: str) -> None:
        self.queue.append(KillRequested(execution_id=execution_id))

    def execution(self, execution_id: str) -> Execution:
        return self.states[execution_id].execution()

    def children(self, flow_id: str) -> list[Execution]:
        return [s.execution() for s in self.states.values() if s.header.flow_id == flow_id]


@dataclass
class _Restarts:
    """`worker.children.Children` over the world's executions: a FAILED or KILLED child is restarted."""

    world: World

    def prepare(self, execution_ids: list[str]) -> list[Prepared]:
        self._fail("prepare")
        return [self._one(execution_id) for execution_id in execution_ids]

    def _fail(self, where: str) -> None:
        if self.world.restart_failures > 0 and self.world.restart_fails_in == where:
            self.world.restart_failures -= 1
            raise ConnectionError("Kafka unreachable")

    def _one(self, execution_id: str) -> Prepared:
        state = self.world.states.get(execution_id)
        self.world.restart_jobs.append(execution_id)
        if state is None:
            return Prepared(None, reason=f"no execution {execution_id}")
        if state.header.state.current not in RESTARTABLE:
            return Prepared(state.execution(), reason=f"it is {state.header.state.current.value}")
        return Prepared(state.execution(), events=[(execution_id, b"")])

    def send(self, ready: list[Prepared]) -> None:
        for number, prepared in enumerate(ready):
            if number == 1:
                self._fail("send")
            for key, _ in prepared.events or []:
                self.world.queue.append(RestartRequested(execution_id=key))
