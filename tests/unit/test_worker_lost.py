"""Lost workers in the pure core (`WorkerLost`, `executor.lost`) and the liveness bookkeeping around it;
also that a job delivered again after its attempt ended changes nothing."""

from __future__ import annotations

from datetime import timedelta

from conveyor.common.events import Heartbeat, WorkerJob, WorkerLost
from conveyor.common.state import StateType
from conveyor.executor.liveness import Liveness, lost_events, running_on
from tests.unit.flows import SLEEPY, failing
from tests.unit.sim import T0, Sim, start

S = StateType

FLAKY = failing("{type: constant, interval: PT1S, maxAttempt: 2}")


def running(source: str, worker: str = "w1") -> tuple[Sim, WorkerJob]:
    """A sim whose first job was taken and reported RUNNING by `worker`."""
    sim = start(source)
    return sim, sim.take(worker)


def test_a_lost_attempt_fails_and_runs_again_as_a_new_attempt() -> None:
    sim, job = running(SLEEPY)
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w1", task_run_ids=[job.task_run.id]))
    (run,) = sim.runs("nap")
    assert run.state.current == S.RUNNING  # not a retry: no RETRYING, no delay
    assert [a.state.current for a in run.attempts] == [S.FAILED, S.CREATED]
    assert run.attempts[0].error == "worker w1 lost" and run.attempts[0].worker_id == "w1"
    (again,) = sim.jobs
    assert again.task_run.id == run.id and again.attempt == 2
    assert again.context["taskrun"]["attemptsCount"] == 1
    assert any("lost with worker w1" in entry.message for entry in sim.executor_logs)
    sim.until_done()
    assert sim.current() == S.SUCCESS
    assert [r.task_id for r in sim.ex.task_run_list] == ["nap", "after"]
    assert [a.state.current for a in sim.runs("nap")[0].attempts] == [S.FAILED, S.SUCCESS]


def test_a_lost_attempt_does_not_count_against_the_retry_policy() -> None:
    sim, _ = running(FLAKY)
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w1"))
    sim.until_done()
    (run,) = sim.runs("flaky")
    assert sim.current() == S.FAILED
    # maxAttempt 2: two tries of the task itself, after the one lost with its worker
    assert [a.state.current for a in run.attempts] == [S.FAILED, S.FAILED, S.FAILED]
    assert [a.error for a in run.attempts] == ["worker w1 lost", "Task failure", "Task failure"]


def test_late_reports_of_the_lost_attempt_are_ignored() -> None:
    sim, job = running(SLEEPY)
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w1"))
    revision = sim.ex.revision
    sim.send(sim.result(job, S.SUCCESS, outputs={"late": True}))
    (run,) = sim.runs("nap")
    assert sim.ex.revision == revision and run.outputs is None
    assert [a.state.current for a in run.attempts] == [S.FAILED, S.CREATED]


def test_worker_lost_is_idempotent_and_spares_other_workers() -> None:
    sim, _ = running(SLEEPY, worker="w2")
    revision = sim.ex.revision
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w1"))
    assert sim.ex.revision == revision and sim.jobs == []
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w2"))
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w2"))
    assert len(sim.jobs) == 1 and len(sim.runs("nap")[0].attempts) == 2


def test_an_unreported_attempt_is_lost_only_when_the_heartbeat_listed_it() -> None:
    sim = start(SLEEPY)
    (job,) = sim.jobs
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w1", task_run_ids=[]))
    assert len(sim.runs("nap")[0].attempts) == 1
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w1", task_run_ids=[job.task_run.id]))
    attempts = sim.runs("nap")[0].attempts
    assert [(a.state.current, a.worker_id) for a in attempts] == [(S.FAILED, "w1"), (S.CREATED, None)]


def test_a_lost_worker_while_killing_ends_the_kill() -> None:
    sim, _ = running(SLEEPY)
    sim.kill()
    assert sim.current() == S.KILLING
    sim.send(WorkerLost(execution_id=sim.ex.id, worker_id="w1"))
    assert sim.current() == S.KILLED
    assert sim.runs("nap")[0].state.current == S.KILLED and sim.jobs == []


def test_a_job_delivered_again_after_its_attempt_ended_changes_nothing() -> None:
    sim, job = running(SLEEPY)
    sim.send(sim.result(job, S.SUCCESS))
    revision, jobs = sim.ex.revision, list(sim.jobs)
    # another worker runs the redelivered job: RUNNING then SUCCESS of the same, ended attempt
    sim.send(sim.result(job, S.RUNNING, "w2"))
    sim.send(sim.result(job, S.FAILED, "w2"))
    assert sim.ex.revision == revision and sim.jobs == jobs
    assert sim.runs("nap")[0].attempts[0].worker_id == "w1"
    sim.until_done()
    assert sim.current() == S.SUCCESS


def test_a_duplicate_report_while_retrying_changes_nothing() -> None:
    sim, job = running(FLAKY)
    sim.send(sim.result(job, S.FAILED))
    assert sim.runs("flaky")[0].state.current == S.RETRYING
    revision = sim.ex.revision
    sim.send(sim.result(job, S.RUNNING))
    sim.send(sim.result(job, S.SUCCESS))
    assert sim.ex.revision == revision and sim.runs("flaky")[0].state.current == S.RETRYING


def beat(worker: str, age: float, runs: list[str] | None = None) -> Heartbeat:
    return Heartbeat(worker_id=worker, host="h", running_task_run_ids=runs or [], time=T0 - timedelta(seconds=age))


def test_liveness_reports_a_silent_worker_once_until_it_beats_again() -> None:
    liveness = Liveness(timedelta(seconds=10))
    liveness.beat(beat("w1", 0))
    liveness.beat(beat("w2", 0))
    assert liveness.newly_lost(T0 + timedelta(seconds=5)) == []
    liveness.beat(beat("w2", -8))
    lost = liveness.newly_lost(T0 + timedelta(seconds=11))
    assert [b.worker_id for b in lost] == ["w1"] and set(liveness.lost) == {"w1"}
    assert liveness.newly_lost(T0 + timedelta(seconds=12)) == []
    liveness.beat(beat("w1", 30))  # an older heartbeat read late does not revive it
    assert set(liveness.lost) == {"w1"}
    liveness.beat(beat("w1", -12))
    assert liveness.lost == {}
    liveness.left("w1")
    liveness.left("w2")
    assert liveness.newly_lost(T0 + timedelta(days=1)) == []


def test_lost_events_name_each_owned_execution_with_an_attempt_on_a_lost_worker() -> None:
    on_w1, _ = running(SLEEPY, worker="w1")
    on_w2, _ = running(SLEEPY, worker="w2")
    unreported = start(SLEEPY)
    listed = unreported.jobs[0].task_run.id
    states = {sim.ex.id: sim.state for sim in (on_w1, on_w2, unreported) if sim.state is not None}
    lost = {"w1": beat("w1", 60, [listed])}
    events = lost_events(states, lost)
    assert sorted((e.execution_id, e.worker_id) for e in events) == sorted(
        [(on_w1.ex.id, "w1"), (unreported.ex.id, "w1")]
    )
    assert running_on(on_w1.ex.task_run_list, lost) and not running_on(on_w2.ex.task_run_list, lost)
    assert lost_events(states, {}) == []
