"""The executor's state records: rebuilt from what a decision wrote, an execution goes on as if nothing
happened; no record grows with the number of task runs."""

from __future__ import annotations

from conveyor.common.state import StateType
from conveyor.executor import records
from conveyor.executor.state import ExecutionState
from tests.unit.sim import Sim, start

S = StateType

LOOP = """
id: loop
namespace: t
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: {values}
    concurrencyLimit: {limit}
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ taskrun.value }}}}"
      - id: flaky
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{{{ taskrun.value == '3' }}}}"
        allowFailure: true
        retry: {{type: constant, interval: PT1S, maxAttempt: 2}}
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.ret['2'].value }}}}"
"""
# The same without the task that reads every iteration's outputs (one job of that size is legitimate).
NO_READER = LOOP.split("  - id: after")[0]


def _stored(sim: Sim) -> list[tuple[str, bytes | None]]:
    """Every record the executor would hold for the simulated execution now."""
    state = sim.state
    assert state is not None
    out: list[tuple[str, bytes | None]] = [(records.flow_key(state.header.id), b"{}")]
    for run in state.runs.values():
        out.append((records.run_key(state.header.id, run.id), records.run_value(state, run, run.to_json())))
    out.append((records.header_key(state.header.id), records.header_value(state, state.header.to_json())))
    return out


def _rebuilt(sim: Sim) -> ExecutionState:
    states = records.rebuild(_stored(sim))
    assert sim.state is not None
    state = states[sim.state.header.id]
    state.flow = sim.state.flow
    return state


def test_an_execution_rebuilt_from_its_records_goes_on_to_the_same_end() -> None:
    values = list(range(1, 8))
    sim = start(LOOP.format(values=values, limit=3))
    for _ in range(4):  # part of the way: some iterations done, a retry timer armed
        sim.run_jobs()
        if sim.timers:
            break
    assert sim.timers
    before, timers = sim.ex.to_dict(), sorted(t.to_json() for t in sim.timers)
    sim.state = _rebuilt(sim)
    assert sim.ex.to_dict() == before
    assert sorted(t.to_json() for t in sim.timers) == timers
    final = sim.until_done()
    assert final.state.current == S.WARNING
    assert sorted(r.value for r in sim.runs("ret")) == [str(v) for v in values]
    assert [r.outputs for r in sim.runs("after")] == [{"value": "2"}]


def test_records_stay_small_whatever_the_number_of_task_runs() -> None:
    sizes = {}
    for n in (10, 1000):
        sim = start(NO_READER.format(values=list(range(n)), limit=0))
        sim.until_done()
        largest = 0
        for decision in sim.decisions:
            for job in decision.encoded_jobs:
                largest = max(largest, len(job))
            largest = max(largest, len(decision.state.header.to_json()))
            for run in decision.changed:
                largest = max(largest, len(records.run_value(decision.state, run, run.to_json())))
        sizes[n] = largest
    assert sizes[1000] <= sizes[10] * 1.2, sizes


def test_a_loop_starts_at_most_max_starts_iterations_per_decision_and_goes_on() -> None:
    from conveyor.executor.decide import MAX_STARTS

    n = MAX_STARTS * 2 + 500
    sim = start(NO_READER.format(values=list(range(n)), limit=0))
    assert len(sim.jobs) == MAX_STARTS  # the first decision: one bounded transaction
    assert [t.purpose for t in sim.timers] == ["continue"]
    final = sim.until_done()
    assert final.state.current == S.WARNING  # value 3 fails, allowed
    assert sorted(int(r.value or 0) for r in sim.runs("ret")) == list(range(n))
    assert max(len(d.encoded) for d in sim.decisions) <= MAX_STARTS
