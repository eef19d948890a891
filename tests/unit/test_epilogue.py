"""The flow's `finally` and `afterExecution` (issue 16), through `decide` with the simulated runners: the
execution's state with and without them, when the execution counts as ended, and a recovery in between."""

from __future__ import annotations

from conveyor.common.state import StateType
from tests.unit.sim import run_flow, start
from tests.unit.test_executor_records import _rebuilt

S = StateType

FLOW = """
id: epilogue
namespace: t
inputs:
  - id: fail_finally
    type: BOOLEAN
    defaults: false
tasks:
  - id: work
    type: io.kestra.plugin.core.debug.Return
    format: work
finally:
  - id: cleanup
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail_finally }}"
afterExecution:
  - id: notify
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.state }}"
  - id: notify_failed
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{ execution.state == 'FAILED' }}"
"""


def test_a_failing_finally_task_fails_the_execution() -> None:
    sim = run_flow(FLOW, {"fail_finally": "true"})
    assert sim.current() == S.FAILED and sim.states("cleanup") == [S.FAILED]


def test_after_execution_runs_once_the_state_is_final_and_never_changes_it() -> None:
    sim = run_flow(FLOW, {"fail_finally": "true"})
    histories = [h.state for h in sim.ex.state.histories]
    assert histories == [S.CREATED, S.RUNNING, S.FAILED]  # the failing afterExecution task changed nothing
    assert sim.states("notify_failed") == [S.FAILED]
    assert [r.outputs for r in sim.runs("notify")] == [{"value": "FAILED"}]
    end = sim.ex.state.end_date
    assert end is not None
    assert all(r.state.start_date >= end for r in [*sim.runs("notify_failed"), *sim.runs("notify")])


def test_the_execution_is_kept_until_its_after_execution_tasks_end_and_survives_a_recovery() -> None:
    sim = start(FLOW)
    while not sim.ex.state.terminal:
        job = sim.jobs.pop(0)
        sim.send(sim.result(job, S.RUNNING))
        sim.send(sim.result(job, S.SUCCESS))
    assert sim.current() == S.SUCCESS
    assert sim.decisions[-1].ended is False  # final state, its afterExecution task still to run
    assert sim.states("notify") == [S.CREATED] and sim.runs("notify_failed") == []
    sim.state = _rebuilt(sim)  # a new owner of the partition
    assert sim.state.after
    sim.run_jobs()
    assert sim.states("notify_failed") == [S.SKIPPED]
    assert sim.decisions[-1].ended is True
    assert [r.outputs for r in sim.runs("notify")] == [{"value": "SUCCESS"}]
    assert sim.current() == S.SUCCESS


def test_finally_and_after_execution_tasks_are_validated_and_their_ids_unique() -> None:
    from conveyor.common.errors import FlowError
    from conveyor.common.loader import load_flow

    bad = FLOW.replace("  - id: notify_failed\n", "  - id: work\n")
    try:
        load_flow(bad)
    except FlowError as exc:
        assert "duplicate task id 'work'" in str(exc)
    else:
        raise AssertionError("a duplicate task id in afterExecution loaded")
