"""`finally` inside flowables (issue 16), through `decide` with the simulated runners: it runs once the
flowable's children (and `errors`) ended, whatever the outcome, once per flowable task run; the flowable takes
the worse state; a kill stops it; a restart reruns only what failed; a WorkingDirectory takes runnable ones
(its worker runs them: `test_workdir`).
(The reference's own flows and assertions are corpus cases `finally-sequential*`, `finally-parallel`,
`finally-foreach`, `finally-dag`, `finally-allowfailure`.)"""

from __future__ import annotations

import re

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.loader import load_flow
from conveyor.common.state import StateType
from conveyor.common.tasks.flowable import WorkingDirectory
from tests.unit.sim import Outcome, run_flow, start
from tests.unit.test_executor_records import _rebuilt
from tests.unit.test_restart import restart

S = StateType
RETURN = "io.kestra.plugin.core.debug.Return"
FAIL = "io.kestra.plugin.core.execution.Fail"


def _flow(body: str) -> str:
    return "id: fin\nnamespace: t\ninputs:\n  - {id: bad, type: BOOLEAN, defaults: false}\ntasks:\n" + body


NESTED = _flow(f"""
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: [a, b]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ true }}}}"
        then:
          - {{id: work, type: {RETURN}, format: "{{{{ parent.taskrun.value }}}}"}}
        finally:
          - {{id: tidy, type: {RETURN}, format: "tidy {{{{ parent.taskrun.value }}}}"}}
    finally:
      - {{id: last, type: {FAIL}, condition: "{{{{ inputs.bad }}}}"}}
  - {{id: next, type: {RETURN}, format: next}}
""")


def test_a_flowable_s_finally_runs_once_per_task_run_after_its_children() -> None:
    sim = run_flow(NESTED)
    assert sim.current() == S.SUCCESS
    assert [r.outputs for r in sim.runs("tidy")] == [{"value": "tidy a"}, {"value": "tidy b"}]
    assert sim.states("last") == [S.SUCCESS]  # once for the ForEach, not per value
    (last,) = sim.runs("last")
    assert last.value is None
    works = sim.runs("work")
    assert all(w.state.end_date is not None and w.state.end_date <= last.state.start_date for w in works)
    assert sim.runs("next")[0].state.start_date >= last.state.end_date


def test_a_failing_finally_task_fails_its_flowable_and_what_follows_does_not_run() -> None:
    sim = run_flow(NESTED, {"bad": "true"})
    assert sim.states("outer") == [S.FAILED] and sim.current() == S.FAILED
    assert sim.states("inner") == [S.SUCCESS, S.SUCCESS]
    assert sim.runs("next") == []


@pytest.mark.parametrize(
    ("flowable", "branch"),
    [
        ("io.kestra.plugin.core.flow.Switch", "value: x\n    cases:\n      x:\n        - {id: ko, type: FAIL}"),
        ("io.kestra.plugin.core.flow.If", "condition: 'true'\n    then:\n      - {id: ko, type: FAIL}"),
        ("io.kestra.plugin.core.flow.Parallel", "tasks:\n      - {id: ko, type: FAIL}\n      - {id: p, type: RETURN}"),
    ],
)
def test_finally_runs_after_the_errors_of_a_failed_flowable(flowable: str, branch: str) -> None:
    body = f"""
  - id: f
    type: {flowable}
    {branch.replace("FAIL", FAIL).replace("RETURN", RETURN)}
    errors:
      - {{id: e, type: {RETURN}, format: e}}
    finally:
      - {{id: a, type: {RETURN}, format: a}}
"""
    sim = run_flow(_flow(body))
    assert sim.current() == S.FAILED and sim.states("f") == [S.FAILED]
    ids = [r.task_id for r in sim.ex.task_run_list]
    assert ids.index("e") < ids.index("a") and sim.states("a") == [S.SUCCESS]


def test_a_loop_until_runs_its_finally_once_it_stopped_looping() -> None:
    body = f"""
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{{{ outputs.loop.iterationCount >= 2 }}}}"
    checkFrequency: {{interval: PT1S, maxIterations: 5}}
    tasks:
      - {{id: step, type: {RETURN}, format: "{{{{ outputs.loop.iterationCount }}}}"}}
    finally:
      - {{id: a, type: {RETURN}, format: "{{{{ outputs.loop.iterationCount }}}}"}}
"""
    sim = run_flow(_flow(body))
    assert sim.current() == S.SUCCESS
    assert len(sim.runs("step")) == 2 and [r.outputs for r in sim.runs("a")] == [{"value": "2"}]


def test_a_kill_while_the_children_run_starts_no_finally_task() -> None:
    sim = start(NESTED)
    sim.take()  # the first `work` runs
    sim.kill()
    sim.run_jobs()
    for _ in range(5):
        sim.fire_next_timer()
    assert sim.current() == S.KILLED
    assert sim.runs("last") == []


def test_a_restart_reruns_the_failed_finally_task_and_keeps_what_ended_well() -> None:
    sim = run_flow(NESTED, {"bad": "true"})
    (failed,) = sim.runs("last")
    restart(sim)
    sim.until_done(lambda job: Outcome(S.SUCCESS))
    assert sim.current() == S.SUCCESS
    (again,) = sim.runs("last")
    assert again.id == failed.id and len(again.attempts) == 2
    assert len(sim.runs("work")) == 2 and all(len(w.attempts) == 1 for w in sim.runs("work"))
    assert sim.states("next") == [S.SUCCESS]


def test_a_recovery_in_the_middle_of_a_finally_goes_on_to_the_same_end() -> None:
    sim = start(NESTED)
    while not sim.runs("last"):
        job = sim.jobs.pop(0)
        sim.send(sim.result(job, S.RUNNING))
        sim.send(sim.result(job, S.SUCCESS, outputs={"value": "x"}))
    sim.state = _rebuilt(sim)  # a new owner of the partition, the finally task dispatched
    sim.run_jobs()
    assert sim.current() == S.SUCCESS and sim.states("last") == [S.SUCCESS] and sim.states("next") == [S.SUCCESS]


def test_finally_tasks_are_validated_their_ids_unique_and_a_working_directory_runs_runnable_ones() -> None:
    with pytest.raises(FlowError, match="duplicate task id 'work'"):
        load_flow(NESTED.replace("id: tidy", "id: work"))
    with pytest.raises(FlowError, match=re.escape("tasks[0].finally[0]")):
        load_flow(NESTED.replace("{id: last, type:", "{id: last, typo: x, type:"))
    workdir = _flow(f"""
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - {{id: w, type: {RETURN}, format: w}}
    finally:
      - {{id: a, type: {RETURN}, format: a}}
""")
    group = load_flow(workdir).tasks[0]
    assert isinstance(group, WorkingDirectory) and [t.id for t in group.finally_] == ["a"]  # its worker runs them
    inner = f"[{{id: b, type: {RETURN}, format: b}}]"
    sequential = f"{{id: a, type: io.kestra.plugin.core.flow.Sequential, tasks: {inner}}}"
    flowable = workdir.replace(f"{{id: a, type: {RETURN}, format: a}}", sequential)
    with pytest.raises(FlowError, match="only tasks a worker runs can be in a WorkingDirectory's `finally`"):
        load_flow(flowable)
