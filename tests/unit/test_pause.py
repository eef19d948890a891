"""The executor's pure decisions for Pause, `conveyor pause` / `resume` and changes of state by hand (issue 16),
run through `decide` with the simulated runners of `tests/unit/sim.py`."""

from __future__ import annotations

from datetime import timedelta

from conveyor.common.events import ChangeStateRequested, PauseRequested, ResumeRequested
from conveyor.common.state import StateType
from tests.unit.sim import Sim, start

S = StateType

PAUSE = """
id: approve
namespace: t
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: ready
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: reason
        type: STRING
        defaults: fine
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.wait.onResume.approved }} {{ outputs.wait.onResume.reason }}"
"""


def _histories(run: object) -> list[StateType]:
    return [h.state for h in run.state.histories]  # type: ignore[attr-defined]


def test_a_pause_pauses_the_task_run_and_the_execution_until_resumed() -> None:
    sim = start(PAUSE)
    sim.until_done()
    assert sim.current() == S.PAUSED
    (wait,) = sim.runs("wait")
    assert wait.state.current == S.PAUSED
    assert not sim.runs("after")
    assert not sim.timers  # no delay, no timeout: paused until resumed
    sim.send(ResumeRequested(execution_id=sim.ex.id, inputs={"wait": {"approved": True, "reason": "ok"}}))
    sim.until_done()
    assert sim.current() == S.SUCCESS
    (wait,) = sim.runs("wait")
    assert _histories(wait) == [S.CREATED, S.RUNNING, S.PAUSED, S.RUNNING, S.SUCCESS]
    assert wait.outputs == {"onResume": {"approved": True, "reason": "ok"}}
    assert sim.runs("after")[0].outputs == {"value": "true ok"}
    assert [h.state for h in sim.ex.state.histories] == [S.CREATED, S.RUNNING, S.PAUSED, S.RUNNING, S.SUCCESS]


def test_a_resume_of_an_execution_that_is_not_paused_changes_nothing() -> None:
    sim = start(PAUSE)
    sim.until_done()
    sim.send(ResumeRequested(execution_id=sim.ex.id, inputs={"wait": {"approved": False, "reason": "no"}}))
    sim.until_done()
    revision = sim.header().revision
    sim.send(ResumeRequested(execution_id=sim.ex.id))
    assert sim.current() == S.SUCCESS and sim.header().revision == revision


DELAY = """
id: delayed
namespace: t
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    delay: PT5M
    tasks:
      - id: subtask
        type: io.kestra.plugin.core.log.Log
        message: after the pause
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: done
"""


def test_a_delay_resumes_the_pause_by_its_timer_then_its_tasks_run() -> None:
    sim = start(DELAY)
    sim.run_jobs()
    assert sim.current() == S.PAUSED
    (timer,) = sim.timers
    assert timer.purpose == "pause/RESUME" and timer.due == sim.runs("pause")[0].state.histories[-1].date + timedelta(
        minutes=5
    )
    sim.until_done()
    assert sim.current() == S.SUCCESS
    (pause,) = sim.runs("pause")
    assert _histories(pause).count(S.PAUSED) == 1 and _histories(pause).count(S.RUNNING) == 2
    assert len(sim.ex.task_run_list) == 3


def test_a_resume_before_the_delay_drops_its_timer() -> None:
    sim = start(DELAY)
    sim.run_jobs()
    sim.send(ResumeRequested(execution_id=sim.ex.id))
    assert not [t for t in sim.timers if t.purpose.startswith("pause")]
    sim.until_done()
    assert sim.current() == S.SUCCESS


def _timeout_flow(behavior: str | None) -> str:
    extra = f"\n    behavior: {behavior}" if behavior else ""
    return f"""
id: timeout
namespace: t
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT1S{extra}
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: done
errors:
  - id: on-error
    type: io.kestra.plugin.core.debug.Return
    format: failed
"""


def test_a_timeout_fails_the_pause_as_the_reference_does() -> None:
    sim = start(_timeout_flow(None))
    sim.until_done()
    assert sim.current() == S.FAILED
    (pause,) = sim.runs("pause")
    assert _histories(pause) == [S.CREATED, S.RUNNING, S.PAUSED, S.FAILED]
    assert not sim.runs("last") and sim.runs("on-error")


def test_behavior_says_what_the_end_of_the_pause_does() -> None:
    for behavior, execution, pause_state, last in [
        ("RESUME", S.SUCCESS, S.SUCCESS, True),
        ("WARN", S.WARNING, S.WARNING, True),
        ("FAIL", S.FAILED, S.FAILED, False),
        ("CANCEL", S.CANCELLED, S.CANCELLED, False),
    ]:
        sim = start(_timeout_flow(behavior))
        sim.until_done()
        assert sim.current() == execution, behavior
        assert sim.runs("pause")[0].state.current == pause_state, behavior
        assert bool(sim.runs("last")) == last, behavior


def test_pausing_a_running_execution_starts_nothing_new_until_resumed() -> None:
    sim = start(
        DELAY.replace(
            "type: io.kestra.plugin.core.flow.Pause\n    delay: PT5M", "type: io.kestra.plugin.core.flow.Sequential"
        )
    )
    job = sim.take()  # the subtask runs
    sim.send(PauseRequested(execution_id=sim.ex.id))
    assert sim.current() == S.PAUSED
    sim.send(sim.result(job, S.SUCCESS))  # the running attempt ends and is recorded
    assert sim.runs("subtask")[0].state.current == S.SUCCESS
    assert not sim.runs("last") and not sim.jobs
    sim.send(ResumeRequested(execution_id=sim.ex.id))
    sim.until_done()
    assert sim.current() == S.SUCCESS and sim.runs("last")


def test_a_kill_of_a_paused_execution_kills_the_pause() -> None:
    sim = start(DELAY)
    sim.run_jobs()
    sim.kill()
    sim.until_done()
    assert sim.current() == S.KILLED
    assert sim.runs("pause")[0].state.current == S.KILLED


def test_a_paused_task_run_changed_by_hand_lets_the_execution_go_on() -> None:
    sim = start(PAUSE)
    sim.until_done()
    (wait,) = sim.runs("wait")
    sim.send(ChangeStateRequested(execution_id=sim.ex.id, task_run_id=wait.id, state=S.WARNING))
    sim.until_done()
    assert sim.current() == S.FAILED  # `after` reads outputs.wait.onResume, which a change by hand never set
    assert _histories(sim.runs("wait")[0])[-1] == S.WARNING


FAILING = """
id: failing
namespace: t
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: next
        type: io.kestra.plugin.core.debug.Return
        format: went on
"""


def test_a_failed_task_run_changed_to_success_lets_an_ended_execution_go_on() -> None:
    sim = start(FAILING)
    sim.until_done()
    assert sim.current() == S.FAILED
    (boom,) = sim.runs("boom")
    sim.send(ChangeStateRequested(execution_id=sim.ex.id, task_run_id=boom.id, state=S.SUCCESS))
    sim.until_done()
    assert sim.current() == S.SUCCESS
    assert [h.state for h in sim.ex.state.histories][-4:] == [S.FAILED, S.RESTARTED, S.RUNNING, S.SUCCESS]
    (boom,) = sim.runs("boom")
    assert _histories(boom)[-2:] == [S.FAILED, S.SUCCESS] and boom.attempts[-1].state.current == S.SUCCESS
    assert _histories(sim.runs("seq")[0])[-3:] == [S.RESTARTED, S.RUNNING, S.SUCCESS]
    assert sim.runs("next")[0].outputs == {"value": "went on"}


def test_an_ended_execution_state_changed_by_hand_is_recorded() -> None:
    sim = start(FAILING)
    sim.until_done()
    sim.send(ChangeStateRequested(execution_id=sim.ex.id, state=S.WARNING))
    assert [h.state for h in sim.ex.state.histories][-2:] == [S.FAILED, S.WARNING]
    sim.send(ChangeStateRequested(execution_id=sim.ex.id, state=S.RUNNING))  # refused: not a state one sets
    assert sim.current() == S.WARNING


REPLAYED = """
id: replayed
namespace: t
inputs:
  - id: who
    type: STRING
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "one {{ inputs.who }}"
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: second
        type: io.kestra.plugin.core.debug.Return
        format: "two {{ outputs.first.value }}"
      - id: third
        type: io.kestra.plugin.core.debug.Return
        format: three
"""


def _replayed(chosen_task: str | None) -> tuple[Sim, Sim]:
    from conveyor.common.events import RestartRequested, RestoreTaskRuns
    from conveyor.common.steering import replay

    old = start(REPLAYED, {"who": "Ada"})
    old.until_done()
    chosen = old.runs(chosen_task)[0].id if chosen_task else None
    header, kept = replay(old.ex, old.ex.task_run_list, chosen)
    new = Sim(old.flow)
    request = RestartRequested(
        execution_id=header.id, execution=header, flow=old.flow.model_dump(by_alias=True), task_run_count=len(kept)
    )
    from conveyor.executor import restore

    new.state = restore.begin(request)
    restore.add(new.state, RestoreTaskRuns(execution_id=header.id, restart_id=request.event_id, task_runs=kept))
    new.send(restore.restart_event(new.state))
    new.until_done()
    return old, new


def test_a_replay_from_a_task_run_keeps_the_runs_before_it_and_runs_the_flow_from_it() -> None:
    old, new = _replayed("second")
    assert new.current() == S.SUCCESS
    assert new.ex.original_id == old.ex.id and new.ex.id != old.ex.id
    assert new.ex.inputs == old.ex.inputs and new.ex.metadata.attempt_number == 2
    assert [r.task_id for r in new.ex.task_run_list] == ["first", "seq", "second", "third"]
    first_old, first_new = old.runs("first")[0], new.runs("first")[0]
    assert first_new.id != first_old.id and first_new.outputs == first_old.outputs  # copied, not run again
    assert first_new.state.histories == first_old.state.histories
    assert _histories(new.runs("seq")[0])[-3:] == [S.RESTARTED, S.RUNNING, S.SUCCESS]
    assert new.runs("second")[0].id != old.runs("second")[0].id  # run again
    assert new.runs("second")[0].outputs == {"value": "two one Ada"}
    assert [h.state for h in new.ex.state.histories] == [S.RESTARTED, S.RUNNING, S.SUCCESS]
    # every task run of the replay is published (the copies are new task runs)
    assert {r.id for d in new.decisions for r in d.changed} >= {r.id for r in new.ex.task_run_list}


def test_a_replay_without_a_task_run_runs_the_whole_flow_again() -> None:
    old, new = _replayed(None)
    assert new.current() == S.SUCCESS
    assert {r.id for r in new.ex.task_run_list}.isdisjoint({r.id for r in old.ex.task_run_list})
    assert len(new.ex.task_run_list) == 4
