"""Restart of a FAILED or KILLED execution, in the pure core (`executor.restart` through `decide`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

from conveyor.common.events import RestartRequested, WorkerJob
from conveyor.common.state import State, StateType
from tests.unit.flows import SLEEPY, flow
from tests.unit.sim import Outcome, Sim, fake_run, run_flow, start

S = StateType


def flaky(times: dict[str, int]) -> Callable[[WorkerJob], Outcome]:
    """A runner that fails the first `times[task id]` attempts of each task named there."""
    seen: Counter[str] = Counter()

    def runner(job: WorkerJob) -> Outcome:
        key = f"{job.task_run.task_id}/{job.task_run.value}"
        seen[key] += 1
        if seen[key] <= times.get(job.task_run.task_id, 0):
            return Outcome(S.FAILED, error="not yet")
        return fake_run(job)

    return runner


def restart(sim: Sim) -> None:
    flow = sim.flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    sim.now += timedelta(seconds=10)
    sim.send(RestartRequested(execution_id=sim.ex.id, execution=sim.ex, flow=flow))


def history(state: State) -> list[StateType]:
    return [h.state for h in state.histories]


SEQUENCE = flow("""
  - {id: a, type: io.kestra.plugin.core.debug.Return, format: A}
  - {id: b, type: io.kestra.plugin.core.log.Log, message: "{{ outputs.a.value }}"}
  - {id: c, type: io.kestra.plugin.core.log.Log, message: C}
""")


def test_restart_runs_the_failed_task_again_and_keeps_what_succeeded() -> None:
    runner = flaky({"b": 1})
    sim = run_flow(SEQUENCE, runner=runner)
    assert sim.current() == S.FAILED and sim.runs("c") == []
    (a_before,) = sim.runs("a")
    restart(sim)
    assert history(sim.ex.state)[-3:] == [S.FAILED, S.RESTARTED, S.RUNNING]
    assert [j.task_run.task_id for j in sim.jobs] == ["b"] and sim.jobs[0].attempt == 2
    assert sim.jobs[0].context["taskrun"]["attemptsCount"] == 1
    sim.until_done(runner)
    assert sim.current() == S.SUCCESS
    assert sim.runs("a") == [a_before]  # kept: one attempt, not run again
    (b,) = sim.runs("b")
    assert [a.state.current for a in b.attempts] == [S.FAILED, S.SUCCESS]
    assert history(b.state) == [S.CREATED, S.RUNNING, S.FAILED, S.RESTARTED, S.RUNNING, S.SUCCESS]
    assert b.attempts[1].state.start_date > b.attempts[0].state.end_date
    assert [r.state.current for r in sim.runs("c")] == [S.SUCCESS]
    assert sim.revisions == sorted(sim.revisions)


NESTED = flow("""
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {id: p1, type: io.kestra.plugin.core.log.Log, message: one}
      - {id: p2, type: io.kestra.plugin.core.log.Log, message: two}
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [x, y]
    concurrencyLimit: 0
    tasks:
      - {id: each_log, type: io.kestra.plugin.core.log.Log, message: "{{ taskrun.value }}"}
""")


def test_restart_inside_flowables_restarts_only_the_failed_branch() -> None:
    runner = flaky({"p2": 1, "each_log": 1})
    sim = run_flow(NESTED, runner=runner)
    assert sim.current() == S.FAILED and sim.runs("each") == []
    restart(sim)
    assert [j.task_run.task_id for j in sim.jobs] == ["p2"]
    sim.until_done(runner)
    assert sim.current() == S.FAILED  # each_log fails once per value on its first attempt
    assert [len(r.attempts) for r in sim.runs("p1")] == [1]
    assert [len(r.attempts) for r in sim.runs("p2")] == [2]
    assert S.RESTARTED in history(sim.runs("par")[0].state) and sim.runs("par")[0].state.current == S.SUCCESS
    restart(sim)
    assert sorted(str(j.task_run.value) for j in sim.jobs) == ["x", "y"]
    sim.until_done(runner)
    assert sim.current() == S.SUCCESS
    assert [len(r.attempts) for r in sim.runs("p2")] == [2]  # not touched by the second restart
    assert [r.state.current for r in sim.runs("each_log")] == [S.SUCCESS, S.SUCCESS]


def test_restart_of_a_killed_execution_gives_the_killed_run_a_new_attempt() -> None:
    sim = start(SLEEPY)
    job = sim.take()
    sim.kill()
    sim.send(sim.result(job, S.KILLED))
    assert sim.current() == S.KILLED
    restart(sim)
    sim.until_done()
    assert sim.current() == S.SUCCESS
    (nap,) = sim.runs("nap")
    assert [a.state.current for a in nap.attempts] == [S.KILLED, S.SUCCESS]
    assert history(nap.state) == [S.CREATED, S.RUNNING, S.KILLED, S.RESTARTED, S.RUNNING, S.SUCCESS]
    assert [r.state.current for r in sim.runs("after")] == [S.SUCCESS]


TOLERANT = flow("""
  - id: soft
    type: io.kestra.plugin.core.flow.Sequential
    allowFailure: true
    tasks:
      - {id: tolerated, type: io.kestra.plugin.core.log.Log, message: x}
  - {id: boom, type: io.kestra.plugin.core.log.Log, message: y}
errors:
  - {id: handler, type: io.kestra.plugin.core.log.Log, message: handled}
""")


def test_restart_leaves_errors_branches_and_tolerated_failures_alone() -> None:
    runner = flaky({"boom": 1, "tolerated": 5})
    sim = run_flow(TOLERANT, runner=runner)
    assert sim.current() == S.FAILED
    assert [r.state.current for r in sim.runs("handler")] == [S.SUCCESS]
    restart(sim)
    assert [j.task_run.task_id for j in sim.jobs] == ["boom"]
    sim.until_done(runner)
    assert sim.current() == S.WARNING  # the tolerated failure still counts as a warning
    assert [len(r.attempts) for r in sim.runs("tolerated")] == [1]
    assert [len(r.attempts) for r in sim.runs("handler")] == [1]


@pytest.mark.parametrize("ended", [True, False])
def test_restart_of_a_successful_or_running_execution_is_refused(ended: bool) -> None:
    sim = run_flow(SEQUENCE) if ended else start(SEQUENCE)
    before = sim.ex.model_copy(deep=True)
    restart(sim)
    assert sim.ex.state == before.state and sim.ex.task_run_list == before.task_run_list
    (line,) = [e.message for e in sim.executor_logs if "restart" in e.message]
    expected = "SUCCESS" if ended else "RUNNING"
    assert f"is {expected}: only a FAILED or KILLED execution can be restarted" in line
