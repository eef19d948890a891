"""Task runs are held as their JSON between decisions (`executor.runs`): nothing for the cyclic garbage
collector to walk, and what a decision reads of them is what it would read of the objects."""

from __future__ import annotations

import gc

from conveyor.common.model import TaskRun
from conveyor.common.state import StateType
from tests.unit.sim import Sim, run_flow, start

S = StateType

LOOP = """
id: loop
namespace: t
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: {values}
    concurrencyLimit: 2
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "v{{{{ taskrun.value }}}}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.ret['2'].value }}}}-{{{{ outputs.ret['5'].value }}}}"
"""


def _held(sim: Sim) -> dict[str, bool]:
    state = sim.state
    assert state is not None
    return {run_id: state.runs.compacted(run_id) for run_id in state.runs}


def test_between_decisions_every_run_is_its_json() -> None:
    sim = start(LOOP.format(values=list(range(1, 7))))
    for _ in range(5):
        job = sim.jobs.pop(0)
        sim.send(sim.result(job, S.RUNNING))
        sim.send(sim.result(job, S.SUCCESS, outputs={"value": f"v{job.task_run.value}"}))
    held = _held(sim)
    runs = {run.id: run for run in sim.ex.task_run_list}  # decodes every run (a tool's whole view)
    sim.send(sim.result(sim.jobs[0], S.RUNNING))  # the next decision turns the runs read back to JSON
    assert _held(sim) == held
    loop = next(r for r in runs.values() if r.task_id == "each")
    assert not held[loop.id]  # the running loop stays an object: every change beneath it reads it
    assert len(held) == len(runs) == 7 and sum(held.values()) == 6  # five ended Returns, the sixth
    state = sim.state
    assert state is not None
    for run_id, compact in held.items():
        if compact:  # every run but the loop
            item = state.runs._items[run_id]
            assert isinstance(item, bytes) and not gc.is_tracked(item)
            assert TaskRun.model_validate_json(item) == runs[run_id]


def test_outputs_of_compacted_runs_reach_later_tasks_and_the_end_is_whole() -> None:
    sim = run_flow(LOOP.format(values=list(range(1, 7))))
    assert sim.current() == S.SUCCESS
    after = sim.runs("after")[0]
    assert after.outputs == {"value": "v2-v5"}
    assert [r.outputs for r in sim.runs("ret")] == [{"value": f"v{i}"} for i in range(1, 7)]
    state = sim.state
    assert state is not None
    state.runs.freeze({}, lambda _: False)  # what the sim read goes back, as after any decision
    assert all(_held(sim).values())  # at the end every run has ended: every one is JSON


def test_a_run_read_and_changed_in_one_decision_keeps_the_change() -> None:
    sim = start(LOOP.format(values=[1]))
    job = sim.jobs.pop(0)
    sim.send(sim.result(job, S.RUNNING))
    sim.send(sim.result(job, S.SUCCESS, outputs={"value": "v1"}))
    state = sim.state
    assert state is not None
    run_id = job.task_run.id
    assert state.runs.compacted(run_id)
    first = state.runs[run_id]
    assert state.runs[run_id] is first  # one object for the rest of the decision
    first.outputs = {"value": "changed"}
    state.runs.freeze({run_id: first.to_json()}, lambda _: False)
    assert state.runs.compacted(run_id) and state.runs[run_id].outputs == {"value": "changed"}
    state.runs[run_id].outputs = {"value": "not kept"}
    state.runs.freeze({}, lambda _: False)  # read only: back to the JSON it was read from
    assert state.runs[run_id].outputs == {"value": "changed"}
