"""AllowFailure, Dag and LoopUntil (WaitFor) in the executor core: validation, order, concurrency, the loop's
timer, kill and recovery. The reference's own flows for them are in the conformance corpus."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.loader import load_flow
from conveyor.common.state import StateType
from conveyor.executor import loops
from tests.unit.sim import run_flow, start

S = StateType


def _dag(entries: str, concurrent: int = 0) -> str:
    return (
        "id: d\nnamespace: conveyor.tests\ntasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n"
        f"    concurrent: {concurrent}\n    tasks:\n{entries}"
    )


def _entry(task_id: str, *deps: str, kind: str = "io.kestra.plugin.core.debug.Return") -> str:
    prop = ", format: x" if kind.endswith("Return") else ""
    text = f"      - task: {{id: {task_id}, type: {kind}{prop}}}\n"
    if deps:
        text += f"        dependsOn: [{', '.join(deps)}]\n"
    return text


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            _entry("task1", "task2") + _entry("task2", "task1") + _entry("task3", "task2"),
            "dag: Cyclic dependency detected: task1, task2",
        ),
        (_entry("task1") + _entry("task2", "taskX"), "dag: Not existing task id in dependency: taskX"),
        (_entry("a", "a"), "dag: Cyclic dependency detected: a"),
    ],
)
def test_a_dag_with_a_cycle_or_an_unknown_dependency_is_refused_when_it_loads(entries: str, message: str) -> None:
    with pytest.raises(FlowError) as caught:
        load_flow(_dag(entries), "flows/d.yaml")
    (problem,) = caught.value.problems
    assert message in problem.message and problem.field.startswith("tasks[0]") and problem.line == 4


def test_a_dag_starts_each_task_once_its_dependencies_ended() -> None:
    sim = start(_dag(_entry("a") + _entry("b", "a") + _entry("c", "a") + _entry("d", "b", "c") + _entry("e")))
    assert sorted(j.task_run.task_id for j in sim.jobs) == ["a", "e"]  # what depends on nothing starts at once
    sim.run_jobs()
    order = [r.task_id for r in sim.ex.task_run_list]
    assert sim.current() == S.SUCCESS and order.index("d") > max(order.index("b"), order.index("c"))


def test_a_dag_runs_at_most_concurrent_tasks_at_once() -> None:
    sim = start(_dag(_entry("a") + _entry("b") + _entry("c") + _entry("d", "a"), concurrent=2))
    assert [j.task_run.task_id for j in sim.jobs] == ["a", "b"]
    a = sim.take()  # a RUNNING
    b = sim.jobs.pop(0)
    sim.send(sim.result(b, S.SUCCESS))  # b ends: one slot for c (d waits for a)
    assert [j.task_run.task_id for j in sim.jobs] == ["c"]
    sim.send(sim.result(a, S.SUCCESS))
    assert [j.task_run.task_id for j in sim.jobs] == ["c", "d"]
    sim.until_done()
    assert sim.current() == S.SUCCESS and len(sim.ex.task_run_list) == 5


def test_a_failed_dag_task_starts_nothing_new_and_fails_the_dag() -> None:
    fail = "io.kestra.plugin.core.execution.Fail"
    sim = run_flow(_dag(_entry("a", kind=fail) + _entry("b", "a")))
    assert sim.current() == S.FAILED and [r.task_id for r in sim.ex.task_run_list] == ["dag", "a"]


def test_a_disabled_dependency_counts_as_ended() -> None:
    entries = "      - task: {id: a, type: io.kestra.plugin.core.debug.Return, format: x, disabled: true}\n"
    sim = run_flow(_dag(entries + _entry("b", "a")))
    assert sim.current() == S.SUCCESS and [r.task_id for r in sim.ex.task_run_list] == ["dag", "b"]


ALLOW = """
id: a
namespace: conveyor.tests
tasks:
  - id: allow
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - {id: ko, type: io.kestra.plugin.core.execution.Fail}
      - {id: never, type: io.kestra.plugin.core.debug.Return, format: x}
  - {id: after, type: io.kestra.plugin.core.debug.Return, format: x}
"""


def test_allow_failure_ends_warning_and_the_execution_goes_on() -> None:
    sim = run_flow(ALLOW)
    states = {r.task_id: r.state.current for r in sim.ex.task_run_list}
    assert states == {"allow": S.WARNING, "ko": S.FAILED, "after": S.SUCCESS}
    assert sim.current() == S.WARNING


LOOP = """
id: l
namespace: conveyor.tests
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.count.values.n == '3' }}"
    checkFrequency: {interval: PT30S%s}
    tasks:
      - id: count
        type: io.kestra.plugin.core.output.OutputValues
        values: {n: "{{ outputs.loop.iterationCount }}"}
"""


def test_loop_until_waits_its_interval_between_iterations_and_stops_when_the_condition_holds() -> None:
    sim = start(LOOP % "")
    sim.run_jobs()
    (timer,) = sim.timers
    assert timer.purpose == loops.TIMER and timer.due - sim.now <= timedelta(seconds=30)
    assert timer.due - sim.now > timedelta(seconds=29)
    sim.until_done()
    runs = sim.runs("count")
    assert sim.current() == S.SUCCESS and [r.iteration for r in runs] == [1, 2, 3]
    assert [r.outputs for r in runs] == [{"values": {"n": str(i)}} for i in (1, 2, 3)]
    assert sim.runs("loop")[0].outputs == {"iterationCount": 3}


@pytest.mark.parametrize(("fail", "state"), [("true", S.FAILED), ("false", S.SUCCESS)])
def test_loop_until_max_iterations_ends_it_as_fail_on_max_reached_says(fail: str, state: StateType) -> None:
    flow = LOOP.replace("'3'", "'9'") % ", maxIterations: 2"
    flow = flow.replace("    tasks:\n      - id: count", f"    failOnMaxReached: {fail}\n    tasks:\n      - id: count")
    sim = run_flow(flow)
    assert sim.current() == state and len(sim.runs("count")) == 2
    assert any("max iterations reached after 2 iteration(s)" in e.message for e in sim.executor_logs)


def test_loop_until_max_duration_counts_from_the_loop_start() -> None:
    flow = LOOP.replace("'3'", "'never'") % ", maxDuration: PT2M"
    sim = run_flow(flow)
    assert sim.current() == S.SUCCESS and len(sim.runs("count")) == 5  # at 0, 30, 60, 90 and 120 s


def test_a_kill_while_the_loop_waits_kills_it_at_once() -> None:
    sim = start(LOOP % "")
    sim.run_jobs()
    assert sim.timers and sim.timers[0].purpose == loops.TIMER
    sim.kill()
    assert sim.runs("loop")[0].state.current == S.KILLED
    assert not [t for t in sim.timers if t.purpose == loops.TIMER]


def test_a_failed_iteration_runs_the_errors_branch_and_fails_the_loop() -> None:
    flow = """
id: l
namespace: conveyor.tests
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ false }}"
    tasks:
      - {id: ko, type: io.kestra.plugin.core.execution.Fail}
    errors:
      - {id: handler, type: io.kestra.plugin.core.debug.Return, format: x}
"""
    sim = run_flow(flow)
    assert sim.current() == S.FAILED and [r.task_id for r in sim.ex.task_run_list] == ["loop", "ko", "handler"]


@pytest.mark.parametrize(
    ("name", "state"), [("allow-failure", S.WARNING), ("dag", S.SUCCESS), ("loop-until", S.SUCCESS)]
)
def test_the_examples_run_in_the_executor_core(name: str, state: StateType) -> None:
    from tests.cli import ROOT

    sim = run_flow((ROOT / "examples" / f"{name}.yaml").read_text())
    assert sim.current() == state
    if name == "loop-until":
        assert len(sim.runs("check")) == 3 and sim.logs[-1] == ("done", "ready after 3 iterations")
    if name == "dag":
        assert sim.logs == [("load", "load clean rows + enrich rows")]


def test_a_secret_in_foreach_values_is_masked_in_the_task_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    monkeypatch.setenv("SECRET_REGION", base64.b64encode(b"eu-secret-1").decode())
    flow = (
        "id: s\nnamespace: conveyor.tests\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n"
        "    values: [\"{{ secret('REGION') }}\", plain]\n    tasks:\n"
        "      - {id: r, type: io.kestra.plugin.core.debug.Return, format: '{{ taskrun.value }}'}\n"
    )
    sim = run_flow(flow)
    assert sim.current() == S.SUCCESS
    assert [r.value for r in sim.runs("r")] == ["******", "plain"]
    assert "eu-secret-1" not in sim.ex.model_dump_json()
    assert any("holds a secret" in e.message for e in sim.executor_logs)
