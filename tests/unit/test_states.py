"""The one transition table (`common.state.TRANSITIONS`): every state of the reference, every allowed edge,
every forbidden edge, and every edge the executor's `decide` takes in its scenarios."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest

from conveyor.common.events import RestartRequested, WorkerJob
from conveyor.common.model import Execution
from conveyor.common.state import TERMINAL, TRANSITIONS, IllegalTransition, State, StateType
from tests.unit.sim import T0, Outcome, Sim, fake_run, run_flow, start

S = StateType
Edge = tuple[StateType, StateType]

# The states `executions-and-states.md` and `task-runs.md` name, plus those kept for later features.
REFERENCE = {"CREATED", "RUNNING", "SUCCESS", "WARNING", "FAILED", "RETRYING", "RETRIED", "KILLING", "KILLED"}
REFERENCE |= {"RESTARTED"}
LATER = {"QUEUED", "PAUSED", "CANCELLED", "SKIPPED"}

ALLOWED = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
FORBIDDEN = sorted((a, b) for a, b in itertools.product(StateType, StateType) if b not in TRANSITIONS[a])


def test_every_reference_state_exists_and_has_a_row() -> None:
    assert {s.value for s in StateType} == REFERENCE | LATER
    assert set(TRANSITIONS) == set(StateType)


def test_terminal_states_move_only_to_restart_or_retry() -> None:
    assert {S.SUCCESS, S.WARNING, S.FAILED, S.KILLED, S.RETRIED} <= TERMINAL
    assert {S.CREATED, S.RUNNING, S.RETRYING, S.KILLING, S.RESTARTED} & TERMINAL == set()
    for state in TERMINAL:
        assert TRANSITIONS[state] <= {S.RESTARTED, S.RETRIED, S.RETRYING}


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_edge_passes(current: StateType, target: StateType) -> None:
    moved = State.new(T0, current).to(target, T0 + timedelta(seconds=1))
    assert moved.current == target
    assert [h.state for h in moved.histories] == [current, target]


@pytest.mark.parametrize(("current", "target"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_forbidden_edge_raises(current: StateType, target: StateType) -> None:
    state = State.new(T0, current)
    with pytest.raises(IllegalTransition) as raised:
        state.to(target, T0)
    assert (raised.value.current, raised.value.target) == (current, target)
    assert state.current == current and len(state.histories) == 1  # nothing applied


# ---- every edge decide takes


def edges(state: State) -> Iterator[Edge]:
    yield from itertools.pairwise(h.state for h in state.histories)


def all_edges(execution: Execution) -> dict[str, set[Edge]]:
    runs = execution.task_run_list
    return {
        "execution": set(edges(execution.state)),
        "taskrun": {e for r in runs for e in edges(r.state)},
        "attempt": {e for r in runs for a in r.attempts for e in edges(a.state)},
    }


def restart(sim: Sim) -> None:
    flow = sim.flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    sim.send(RestartRequested(execution_id=sim.ex.id, execution=sim.ex, flow=flow))


LOG = "{id: log, type: io.kestra.plugin.core.log.Log, message: x}"
NAP = "{id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT60S}"
FAIL = "{id: boom, type: io.kestra.plugin.core.execution.Fail}"
RETRIED = FAIL.replace("}", ", retry: {type: constant, interval: PT1S, maxAttempt: 2}}")


def flow(*tasks: str, extra: str = "") -> str:
    return "id: s\nnamespace: t\ntasks:\n" + "".join(f"  - {t}\n" for t in tasks) + extra


def seq(child: str) -> str:
    return f"{{id: seq, type: io.kestra.plugin.core.flow.Sequential, tasks: [{child}]}}"


def killed_while_running(source: str, confirmed: bool) -> Sim:
    """Kill after the first job started; the worker confirms, or never answers (the grace timer ends it)."""
    sim = start(source)
    job = sim.jobs.pop()
    sim.send(sim.result(job, S.RUNNING))
    sim.kill()
    if confirmed:
        sim.send(sim.result(job, S.KILLED))
    else:
        sim.fire_next_timer()
    return sim


def _scenarios() -> Iterator[Execution]:
    yield run_flow(flow(LOG)).ex  # success
    yield run_flow(flow(LOG), runner=lambda job: Outcome(S.WARNING)).ex  # warning
    yield run_flow(flow(FAIL)).ex  # failure
    yield run_flow(flow(RETRIED)).ex  # RETRYING between attempts
    yield run_flow(flow(seq(FAIL))).ex  # a flowable failing from its child
    # kill: a running attempt confirmed by the worker, unstarted runs, a run waiting for its retry
    yield killed_while_running(flow(NAP, LOG), confirmed=True).ex
    sim = start(flow(f"{{id: par, type: io.kestra.plugin.core.flow.Parallel, tasks: [{NAP}, {LOG}]}}"))
    sim.kill()  # both children dispatched, none started: killed by the executor
    yield sim.ex
    sim = start(flow(RETRIED.replace("PT1S", "PT10S")))
    sim.run_jobs()
    sim.kill()
    yield sim.ex
    yield killed_while_running(flow(NAP), confirmed=False).ex
    # restart of a failed execution (through a flowable) and of a killed one
    calls: list[str] = []

    def once(job: WorkerJob) -> Outcome:
        calls.append(job.task_run.task_id)
        return Outcome(S.FAILED) if calls.count(job.task_run.task_id) == 1 else fake_run(job)

    sim = run_flow(flow(seq(LOG)), runner=once)
    restart(sim)
    sim.until_done(once)
    yield sim.ex
    sim = killed_while_running(flow(NAP), confirmed=True)
    restart(sim)
    sim.kill()  # killed again before the new attempt started
    yield sim.ex
    # flow-level retry as a new execution
    retry = "retry: {type: constant, interval: PT1S, maxAttempt: 2, behavior: CREATE_NEW_EXECUTION}\n"
    sim = start(flow(FAIL, extra=retry))
    sim.until_done()
    yield sim.ex


DECIDE_EDGES: dict[str, set[Edge]] = {
    "execution": {
        (S.CREATED, S.RUNNING),
        (S.RUNNING, S.SUCCESS),
        (S.RUNNING, S.WARNING),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.KILLING),
        (S.KILLING, S.KILLED),
        (S.FAILED, S.RESTARTED),
        (S.KILLED, S.RESTARTED),
        (S.RESTARTED, S.RUNNING),
        (S.RUNNING, S.RETRYING),
        (S.RETRYING, S.RETRIED),
    },
    "taskrun": {
        (S.CREATED, S.RUNNING),
        (S.CREATED, S.KILLED),
        (S.RUNNING, S.SUCCESS),
        (S.RUNNING, S.WARNING),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.KILLED),
        (S.RUNNING, S.RETRYING),
        (S.RETRYING, S.RUNNING),
        (S.RETRYING, S.KILLED),
        (S.FAILED, S.RESTARTED),
        (S.KILLED, S.RESTARTED),
        (S.RESTARTED, S.RUNNING),
        (S.RESTARTED, S.KILLED),
    },
    "attempt": {
        (S.CREATED, S.RUNNING),
        (S.RUNNING, S.SUCCESS),
        (S.RUNNING, S.WARNING),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.KILLED),
    },
}


def test_decide_takes_every_listed_edge_and_only_edges_of_the_table() -> None:
    seen: dict[str, set[Edge]] = {"execution": set(), "taskrun": set(), "attempt": set()}
    for execution in _scenarios():
        for what, found in all_edges(execution).items():
            seen[what] |= found
    for what, found in seen.items():
        assert found <= set(ALLOWED), what
        missing = DECIDE_EDGES[what] - found
        assert not missing, f"{what}: no scenario takes {sorted(missing)}"
