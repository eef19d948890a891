"""The executor's pure core, without Kafka: states, sequence, flowables, retries, errors, kill."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest

from conveyor.common.events import WorkerJob
from conveyor.common.state import IllegalTransition, State, StateType
from tests.unit.flows import SLEEPY, failing, flow
from tests.unit.sim import T0, Outcome, Sim, run_flow, start

S = StateType


def states(sim: Sim, task_id: str) -> list[StateType]:
    return [r.state.current for r in sim.runs(task_id)]


def test_sequence_runs_tasks_in_order_and_succeeds() -> None:
    sim = run_flow(
        flow("""
  - {id: a, type: io.kestra.plugin.core.debug.Return, format: "A"}
  - {id: b, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.a.value }}B"}
""")
    )
    assert sim.current() == S.SUCCESS
    assert [r.task_id for r in sim.ex.task_run_list] == ["a", "b"]
    assert sim.runs("b")[0].outputs == {"value": "AB"}
    history = [h.state for h in sim.ex.state.histories]
    assert history == [S.CREATED, S.RUNNING, S.SUCCESS]


def test_a_final_result_without_running_before_it_records_the_attempts_start() -> None:
    sim = start(flow("  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}"))
    job = sim.jobs.pop(0)
    began = sim.now + timedelta(milliseconds=3)
    sim.now += timedelta(milliseconds=5)
    sim.send(sim.result(job, S.SUCCESS, started=began))
    [run] = sim.runs("a")
    assert [(h.state, h.date) for h in run.state.histories] == [
        (S.CREATED, T0),
        (S.RUNNING, began),
        (S.SUCCESS, sim.now),
    ]
    [attempt] = run.attempts
    assert [(h.state, h.date) for h in attempt.state.histories][1:] == [(S.RUNNING, began), (S.SUCCESS, sim.now)]
    assert attempt.worker_id == "w1"
    assert sim.current() == S.SUCCESS


def test_only_one_task_is_dispatched_at_a_time_in_a_sequence() -> None:
    sim = start(
        flow("""
  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}
  - {id: b, type: io.kestra.plugin.core.log.Log, message: y}
""")
    )
    assert [j.task_run.task_id for j in sim.jobs] == ["a"]
    assert sim.current() == S.RUNNING


def test_revision_rises_with_every_change() -> None:
    sim = run_flow(flow("  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}"))
    assert sim.revisions == sorted(sim.revisions)
    assert sim.revisions[0] == 1 and sim.revisions[-1] == len(sim.revisions)


def test_taskrun_variable_has_exactly_the_reference_keys() -> None:
    sim = run_flow(flow("  - {id: return, type: io.kestra.plugin.core.debug.Return, format: '{{ taskrun }}'}"))
    run = sim.runs("return")[0]
    rendered = json.loads(run.outputs["value"])
    assert set(rendered) == {"id", "startDate", "attemptsCount"}
    assert rendered["id"] == run.id and rendered["attemptsCount"] == 0


def test_failed_task_fails_the_execution_and_stops_the_sequence() -> None:
    sim = run_flow(
        flow("""
  - {id: boom, type: io.kestra.plugin.core.execution.Fail}
  - {id: never, type: io.kestra.plugin.core.log.Log, message: x}
""")
    )
    assert sim.current() == S.FAILED
    assert sim.runs("never") == []
    assert sim.runs("boom")[0].attempts[0].error == "Task failure"


def test_failing_template_fails_only_that_task_run_with_the_message() -> None:
    def runner(job: WorkerJob) -> Outcome:
        from tests.unit.sim import fake_run

        return fake_run(job)

    sim = run_flow(
        flow("  - {id: bad, type: io.kestra.plugin.core.debug.Return, format: '{{ nope.value }}'}"), runner=runner
    )
    run = sim.runs("bad")[0]
    assert run.state.current == S.FAILED
    assert "nope" in (run.attempts[0].error or "")


def test_warning_result_makes_the_execution_warning() -> None:
    sim = run_flow(
        flow("  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}"), runner=lambda job: Outcome(S.WARNING)
    )
    assert sim.current() == S.WARNING


def test_loop_parents_render_like_the_reference(loop_flow: str) -> None:
    sim = run_flow(loop_flow)
    assert sim.current() == S.SUCCESS
    assert [m for t, m in sim.logs if t == "log"] == ["1", "2"]
    parents = [json.loads(m) for t, m in sim.logs if t == "log_parent"]
    assert parents == [[{"taskrun": {"value": "1"}}], [{"taskrun": {"value": "2"}}]]
    foreach = sim.runs("foreach")[0]
    ifs = sim.runs("if")
    assert [r.value for r in ifs] == ["1", "2"] and all(r.parent_task_run_id == foreach.id for r in ifs)
    for log_parent, if_run in zip(sim.runs("log_parent"), ifs, strict=True):
        assert log_parent.parent_task_run_id == if_run.id and log_parent.value is None


@pytest.fixture
def loop_flow() -> str:
    return """
id: loop
namespace: company.team
tasks:
  - id: foreach
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2]
    tasks:
      - {id: log, type: io.kestra.plugin.core.log.Log, message: "{{ taskrun.value }}"}
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: "{{ true }}"
        then:
          - {id: log_parent, type: io.kestra.plugin.core.log.Log, message: "{{ parents }}"}
"""


def test_foreach_concurrency_zero_dispatches_every_value_at_once() -> None:
    sim = start(
        flow("""
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(50) | list }}"
    concurrencyLimit: 0
    tasks:
      - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT1S}
""")
    )
    assert len(sim.jobs) == 50
    assert sorted(str(j.task_run.value) for j in sim.jobs) == sorted(str(i) for i in range(50))


@pytest.mark.parametrize(("limit", "expected"), [(1, 1), (2, 2), (3, 3)])
def test_foreach_concurrency_limit_bounds_active_values(limit: int, expected: int) -> None:
    sim = start(
        flow(f"""
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c", "d"]
    concurrencyLimit: {limit}
    tasks:
      - {{id: x, type: io.kestra.plugin.core.log.Log, message: "{{{{ taskrun.value }}}}"}}
      - {{id: y, type: io.kestra.plugin.core.log.Log, message: "{{{{ taskrun.value }}}}"}}
""")
    )
    assert len(sim.jobs) == expected
    sim.until_done()
    assert sim.current() == S.SUCCESS and len(sim.ex.task_run_list) == 9


@pytest.mark.parametrize(
    ("flowable", "logged"),
    [
        (
            "{id: fail, type: io.kestra.plugin.core.flow.ForEach, values: '[1, null]', tasks: [X]}",
            "Found '1' null values on Each",
        ),
        (
            "{id: fail, type: io.kestra.plugin.core.flow.If, condition: '{{ missing.thing }}', then: [X]}",
            "missing.thing",
        ),
        ("{id: fail, type: io.kestra.plugin.core.flow.Switch, value: nothing, cases: {a: [X]}}", "no case matches"),
    ],
    ids=["foreach-with-a-null-value", "if-condition-render-error", "switch-without-match-or-defaults"],
)
def test_a_flowable_that_cannot_resolve_fails_the_execution_and_logs_why(flowable: str, logged: str) -> None:
    child = "{id: x, type: io.kestra.plugin.core.log.Log, message: x}"
    sim = run_flow(flow("  - " + flowable.replace("[X]", f"[{child}]")))
    assert sim.current() == S.FAILED
    (entry,) = sim.executor_logs
    assert logged in entry.message and entry.task_id == "fail"


def test_parallel_dispatches_all_children() -> None:
    sim = start(
        flow("""
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {id: a, type: io.kestra.plugin.core.log.Log, message: x}
      - {id: b, type: io.kestra.plugin.core.log.Log, message: x}
      - {id: c, type: io.kestra.plugin.core.log.Log, message: x}
""")
    )
    assert sorted(j.task_run.task_id for j in sim.jobs) == ["a", "b", "c"]


def test_constant_retry_keeps_every_attempt_on_one_task_run() -> None:
    sim = run_flow(failing("{type: constant, interval: PT1S, maxAttempt: 3}"))
    assert sim.current() == S.FAILED
    (run,) = sim.runs("flaky")
    assert [a.state.current for a in run.attempts] == [S.FAILED] * 3
    starts = [a.state.start_date for a in run.attempts]
    assert starts[1] - starts[0] >= timedelta(seconds=1)
    assert S.RETRYING in [h.state for h in run.state.histories]


def test_retry_then_success_with_warning_on_retry() -> None:
    calls: list[int] = []

    def runner(job: WorkerJob) -> Outcome:
        calls.append(job.attempt)
        assert job.context["taskrun"]["attemptsCount"] == job.attempt - 1
        return Outcome(S.FAILED if job.attempt == 1 else S.SUCCESS)

    source = flow("""
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: x
    retry: {type: constant, interval: PT0.1S, maxAttempt: 3, warningOnRetry: WOR}
""")
    sim = run_flow(source.replace("WOR", "false"), runner=runner)
    assert sim.current() == S.SUCCESS and calls == [1, 2]
    calls.clear()
    sim = run_flow(source.replace("WOR", "true"), runner=runner)
    assert sim.current() == S.WARNING


def test_max_duration_stops_retries_early() -> None:
    sim = run_flow(failing("{type: constant, interval: PT2S, maxAttempt: 10, maxDuration: PT5S}"))
    assert len(sim.runs("flaky")[0].attempts) == 3


def test_exponential_intervals_grow() -> None:
    sim = run_flow(failing("{type: exponential, interval: PT1S, maxInterval: PT10S, maxAttempt: 4}"))
    starts = [a.state.start_date for a in sim.runs("flaky")[0].attempts]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert gaps[0] < gaps[1] < gaps[2]


def test_allow_failure_and_allow_warning_on_a_runnable() -> None:
    source = flow("""
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
    ALLOW_WARNING
    retry: {type: constant, interval: PT0.1S, maxAttempt: 3}
  - {id: log, type: io.kestra.plugin.core.log.Log, message: x}
""")
    sim = run_flow(source.replace("ALLOW_WARNING", ""))
    assert sim.current() == S.WARNING and states(sim, "fail") == [S.WARNING]
    assert len(sim.runs("fail")[0].attempts) == 3 and states(sim, "log") == [S.SUCCESS]
    sim = run_flow(source.replace("ALLOW_WARNING", "allowWarning: true"))
    assert sim.current() == S.SUCCESS and states(sim, "fail") == [S.SUCCESS]


def test_errors_branch_runs_but_the_execution_stays_failed() -> None:
    sim = run_flow(
        flow("""
  - {id: boom, type: io.kestra.plugin.core.execution.Fail}
errors:
  - {id: handler, type: io.kestra.plugin.core.log.Log, message: "handling"}
""")
    )
    assert sim.current() == S.FAILED
    assert states(sim, "handler") == [S.SUCCESS]


def test_flow_outputs_render_at_the_end_and_a_failing_one_fails_the_execution() -> None:
    source = flow("""
  - {id: r, type: io.kestra.plugin.core.debug.Return, format: hi}
outputs:
  - {id: out, type: STRING, value: 'OUTPUT'}
""")
    sim = run_flow(source.replace("OUTPUT", "{{ outputs.r }}"))
    assert sim.ex.outputs == {"out": '{"value":"hi"}'}
    sim = run_flow(source.replace("OUTPUT", "{{ outputs.nope.value }}"))
    assert sim.current() == S.FAILED and sim.ex.outputs is None


def test_kill_marks_pending_runs_killed_and_ends_after_the_worker_confirms() -> None:
    sim = start(SLEEPY)
    job = sim.take()
    sim.kill()
    assert sim.current() == S.KILLING and sim.kills == [sim.ex.id]
    sim.send(sim.result(job, S.KILLED))
    assert sim.current() == S.KILLED
    assert states(sim, "nap") == [S.KILLED] and sim.runs("after") == []


def test_kill_without_worker_answer_ends_after_the_grace_period() -> None:
    sim = start(SLEEPY)
    sim.take()
    sim.kill()
    assert sim.fire_next_timer()
    assert sim.current() == S.KILLED and states(sim, "nap") == [S.KILLED]


def test_stale_and_duplicate_results_are_ignored() -> None:
    sim = start(
        flow("""
  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}
  - {id: b, type: io.kestra.plugin.core.log.Log, message: x}
""")
    )
    job = sim.jobs.pop()
    sim.send(sim.result(job, S.SUCCESS))
    revision = sim.ex.revision
    sim.send(sim.result(job, S.FAILED))  # the same attempt reported again, differently
    assert states(sim, "a") == [S.SUCCESS] and sim.ex.revision == revision


def test_state_transitions_are_enforced() -> None:
    state = State.new(T0)
    running = state.to(S.RUNNING, T0)
    done = running.to(S.SUCCESS, T0 + timedelta(seconds=2))
    assert done.duration == "PT2S" and done.end_date is not None
    with pytest.raises(IllegalTransition):
        done.to(S.RUNNING, T0)
    with pytest.raises(IllegalTransition):
        state.to(S.RETRYING, T0)
