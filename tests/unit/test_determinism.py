"""`decide` is deterministic: replaying the same events with the same clock, id source and random source
gives the same decisions, byte for byte (property test over random event sequences)."""

from __future__ import annotations

import random
from datetime import timedelta

from conveyor.common.events import KillRequested, TimerFired
from conveyor.common.state import StateType
from tests.unit.sim import start

S = StateType
FLOW = """
id: det
namespace: t
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c", "d"]
    concurrencyLimit: 2
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }} {{ now() }}"
      - id: maybe
        type: io.kestra.plugin.core.execution.Fail
        retry: {type: random, minInterval: PT1S, maxInterval: PT9S, maxAttempt: 3}
        allowFailure: true
  - id: stamp
    type: io.kestra.plugin.core.flow.If
    condition: "{{ now() is defined }}"
    then:
      - {id: last, type: io.kestra.plugin.core.debug.Return, format: done}
"""


def _trace(seed: int) -> list[bytes]:
    """Drive one execution with choices drawn from `seed`; every decision's published content."""
    choices = random.Random(seed)
    sim = start(FLOW)
    out: list[bytes] = []
    for _ in range(200):
        if sim.ex.state.terminal:
            break
        sim.now += timedelta(milliseconds=choices.randint(1, 500))
        roll = choices.random()
        if sim.jobs and roll < 0.8:
            job = sim.jobs.pop(choices.randrange(len(sim.jobs)))
            state = choices.choice([S.SUCCESS, S.FAILED, S.RUNNING])
            sim.send(sim.result(job, state, outputs={"v": job.task_run.value} if state == S.SUCCESS else None))
            if state == S.RUNNING:
                sim.jobs.append(job)
        elif sim.timers and roll < 0.95:
            timer = min(sim.timers, key=lambda t: t.due)
            sim.now = max(sim.now, timer.due)
            sim.send(TimerFired(event_id=f"t{len(out)}", execution_id=sim.ex.id, timer_id=timer.id))
        elif roll > 0.99:
            sim.send(KillRequested(event_id=f"k{len(out)}", execution_id=sim.ex.id))
        else:
            continue
        decision = sim.decisions[-1]
        out.append(
            b"|".join(
                [
                    decision.state.header.to_json(),
                    *decision.encoded_jobs,
                    *(r.to_json() for r in decision.changed),
                    *(log.to_json() for log in decision.logs),
                    *(t.to_json() for t in decision.timers),
                ]
            )
        )
    return out


def _fresh_sims() -> None:
    import itertools

    import tests.unit.sim as sim_module

    sim_module._SEEDS = itertools.count(7)


def test_the_same_events_give_the_same_decisions() -> None:
    for seed in range(25):
        _fresh_sims()
        first = _trace(seed)
        _fresh_sims()
        second = _trace(seed)
        assert first == second, f"seed {seed} diverged"
        assert first


def test_now_in_the_executor_is_the_decisions_clock() -> None:
    sim = start(FLOW.replace("{{ now() is defined }}", "{{ now() | date('yyyy') == '2026' }}"))
    # the simulated clock starts at 2026-01-01
    sim.until_done()
    assert [r.state.current for r in sim.runs("last")] == [S.SUCCESS]
