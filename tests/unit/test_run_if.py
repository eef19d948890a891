"""`runIf` on any task (issue 16), through `decide` with the simulated runners: false -> SKIPPED with no
attempt, inside flowables too; a condition that cannot render fails its task run."""

from __future__ import annotations

from conveyor.common.state import StateType
from tests.unit.sim import run_flow

S = StateType

IN_FLOWABLES = """
id: runif
namespace: t
inputs:
  - id: go
    type: BOOLEAN
    defaults: false
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: only_b
        type: io.kestra.plugin.core.debug.Return
        runIf: "{{ taskrun.value == 'b' }}"
        format: "{{ taskrun.value }}"
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p_yes
        type: io.kestra.plugin.core.debug.Return
        format: "yes"
      - id: p_no
        type: io.kestra.plugin.core.debug.Return
        runIf: "{{ inputs.go }}"
        format: "no"
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    runIf: "0"
    tasks:
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: never
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ tasks.p_no.state }}"
"""


def test_run_if_skips_inside_loops_parallels_and_a_skipped_flowable_creates_no_child() -> None:
    sim = run_flow(IN_FLOWABLES)
    assert sim.current() == S.SUCCESS
    assert sim.states("only_b") == [S.SKIPPED, S.SUCCESS, S.SKIPPED]
    assert [r.outputs for r in sim.runs("only_b")] == [None, {"value": "b"}, None]
    assert all(not r.attempts for r in sim.runs("only_b") if r.state.current == S.SKIPPED)
    assert sim.states("p_yes") == [S.SUCCESS] and sim.states("p_no") == [S.SKIPPED]
    assert sim.states("seq") == [S.SKIPPED] and sim.runs("never") == []
    assert [h.state for h in sim.runs("seq")[0].state.histories] == [S.CREATED, S.SKIPPED]
    assert sim.runs("last")[0].outputs == {"value": "SKIPPED"}
    assert sim.states("loop") == [S.SUCCESS] and sim.states("par") == [S.SUCCESS]


def test_run_if_true_runs_the_task() -> None:
    sim = run_flow(IN_FLOWABLES, {"go": "true"})
    assert sim.states("p_no") == [S.SUCCESS]


def test_a_run_if_that_cannot_render_fails_the_task_run_and_allow_failure_holds() -> None:
    flow = """
id: runif_bad
namespace: t
tasks:
  - id: bad
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ nope.x }}"
    allowFailure: true
    format: x
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: after
"""
    sim = run_flow(flow)
    assert sim.states("bad") == [S.WARNING] and sim.states("after") == [S.SUCCESS]
    assert sim.current() == S.WARNING
    errors = [line for line in sim.log_lines if line.get("level") == "ERROR"]
    assert any("Unable to evaluate the runIf condition for task bad" in str(e.get("message")) for e in errors)
