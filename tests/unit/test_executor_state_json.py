"""The executor's state record, built from the snapshot JSON it already has, reads back as the same state."""

from __future__ import annotations

from datetime import timedelta

from conveyor.common.events import ExecutorState, Timer
from conveyor.executor.service import state_json
from tests.unit.sim import T0, run_flow


def test_state_json_reads_back_as_the_state() -> None:
    sim = run_flow("id: s\nnamespace: t\ntasks:\n  - {id: a, type: io.kestra.plugin.core.debug.Return, format: x}\n")
    state = ExecutorState(
        execution=sim.ex,
        flow={"id": "s", "namespace": "t", "tasks": [{"id": "a", "format": 'é "q" \\ end'}]},
        applied=["e1", "e2"],
        timers=[Timer(id="t1", due=T0 + timedelta(seconds=1), purpose="retry", ref="r")],
    )
    raw = state_json(state, sim.ex.to_json())
    assert ExecutorState.model_validate_json(raw) == state
    assert ExecutorState.model_validate_json(raw).to_json() == state.to_json()
