"""Flow concurrency without Kafka: the slot keeper's table (`executor.slots`) and the executor's rule
(`executor.concurrency`): CREATED -> (QUEUED ->) RUNNING, CANCELLED, FAILED, kill of a queued execution, the
release of the slot whatever the end, and restarts, replays and changes of state that run an ended execution again."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from conveyor.common.concurrency import Answer, Behavior, Holder, SlotForced, SlotReleased, SlotRequested
from conveyor.common.errors import FlowError
from conveyor.common.events import ChangeStateRequested, RestartRequested, SlotDecided, UnqueueRequested
from conveyor.common.loader import load_flow
from conveyor.common.state import StateType
from conveyor.common.steering import replay
from conveyor.executor.slots import Slots, holder_key
from tests.unit.sim import T0, Sim, start
from tests.unit.test_executor_records import _rebuilt

S = StateType
FLOW = "t/test"


def request(execution_id: str, limit: int = 2, behavior: Behavior = Behavior.QUEUE) -> SlotRequested:
    return SlotRequested(flow=FLOW, execution_id=execution_id, limit=limit, behavior=behavior)


def release(execution_id: str) -> SlotReleased:
    return SlotReleased(flow=FLOW, execution_id=execution_id)


# ---- the keeper's table
def test_under_the_limit_a_request_starts_at_the_limit_it_queues() -> None:
    slots = Slots()
    answers = [slots.apply(request(e), T0).answers for e in ("a", "b", "c")]
    assert answers == [[("a", Answer.START)], [("b", Answer.START)], [("c", Answer.QUEUE)]]
    assert slots.counts(FLOW) == (2, 1)


@pytest.mark.parametrize(("behavior", "answer"), [(Behavior.CANCEL, Answer.CANCEL), (Behavior.FAIL, Answer.FAIL)])
def test_cancel_and_fail_keep_nothing_of_the_refused_newcomer(behavior: Behavior, answer: Answer) -> None:
    slots = Slots()
    slots.apply(request("a", 1, behavior), T0)
    out = slots.apply(request("b", 1, behavior), T0)
    assert out.answers == [("b", answer)] and out.records == {}
    assert slots.counts(FLOW) == (1, 0)
    assert slots.apply(release("b"), T0).answers == []  # its release changes nothing
    assert slots.counts(FLOW) == (1, 0)


def test_a_release_starts_the_head_of_the_queue_in_order() -> None:
    slots = Slots()
    for e in "abcde":
        slots.apply(request(e, 1), T0)
    started = []
    running = "a"
    for _ in range(4):
        [(running, answer)] = slots.apply(release(running), T0).answers
        assert answer == Answer.START
        started.append(running)
    assert started == ["b", "c", "d", "e"]


def test_a_duplicate_request_is_answered_nothing_and_a_queued_release_leaves_the_queue() -> None:
    slots = Slots()
    slots.apply(request("a", 1), T0)
    slots.apply(request("b", 1), T0)
    slots.apply(request("c", 1), T0)
    assert slots.apply(request("a", 1), T0).answers == []
    out = slots.apply(release("b"), T0)  # b was killed while queued
    assert out.answers == [] and out.records == {holder_key(FLOW, "b"): None}
    assert slots.apply(release("a"), T0).answers == [("c", Answer.START)]


def test_a_forced_slot_runs_past_the_limit_leaves_the_queue_and_is_released_as_any_other() -> None:
    slots = Slots()
    for e in "abc":
        slots.apply(request(e, 1), T0)
    out = slots.apply(SlotForced(flow=FLOW, execution_id="c"), T0)  # c unqueued by hand
    assert out.answers == [] and out.records[holder_key(FLOW, "c")].running  # type: ignore[union-attr]
    assert slots.counts(FLOW) == (2, 1)  # a and c run, b waits
    assert slots.apply(SlotForced(flow=FLOW, execution_id="c"), T0).records == {}  # delivered again
    assert slots.apply(SlotForced(flow=FLOW, execution_id="zz"), T0).records == {}  # unknown: released before
    assert slots.apply(release("a"), T0).answers == []  # c still holds the one slot: b waits on
    assert slots.apply(release("c"), T0).answers == [("b", Answer.START)]


def test_a_raised_limit_starts_queued_executions_and_a_lowered_one_waits_for_the_running() -> None:
    slots = Slots()
    for e in "abcd":
        slots.apply(request(e, 1), T0)
    assert slots.apply(request("e", 3), T0).answers == [("b", Answer.START), ("c", Answer.START), ("e", Answer.QUEUE)]
    assert slots.apply(request("f", 1), T0).answers == [("f", Answer.QUEUE)]
    assert slots.apply(release("a"), T0).answers == []  # 2 still run, over the new limit of 1
    assert slots.apply(release("b"), T0).answers == []
    assert slots.apply(release("c"), T0).answers == [("d", Answer.START)]  # the queue's order: d, e, f


def test_the_table_rebuilt_from_its_records_decides_as_the_one_that_wrote_them() -> None:
    """What survives a crash: the records written so far (compaction keeps the latest per key, in any order)."""
    rng = random.Random(7)
    live, written = Slots(), {}
    running: list[str] = []
    for i in range(200):
        if running and rng.random() < 0.45:
            message: SlotRequested | SlotReleased = release(running.pop(rng.randrange(len(running))))
        else:
            message = request(f"e{i}", 3)
        out = live.apply(message, T0 + timedelta(seconds=i))
        written.update(out.records)
        running += [e for e, a in out.answers if a == Answer.START]
    rebuilt = Slots()
    records = [h for h in written.values() if h is not None]
    rng.shuffle(records)
    for holder in records:
        rebuilt.load(holder)
    rebuilt.sort_queues()
    assert rebuilt.counts(FLOW) == live.counts(FLOW)
    assert list(rebuilt.flows[FLOW].queue) == list(live.flows[FLOW].queue)
    assert rebuilt.apply(release(running[0]), T0).answers == live.apply(release(running[0]), T0).answers


def test_a_holder_record_keeps_the_limit_and_position() -> None:
    slots = Slots()
    slots.apply(request("a", 1), T0)
    [holder] = [h for h in slots.apply(request("b", 1), T0).records.values() if h is not None]
    assert isinstance(holder, Holder)
    assert (holder.execution_id, holder.running, holder.limit) == ("b", False, 1)


# ---- the executor's rule
LIMITED = """
id: test
namespace: t
concurrency: {limit: 1%s}
tasks:
  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}
"""


def limited(behavior: str = "") -> Sim:
    return start(LIMITED % (f", behavior: {behavior}" if behavior else ""))


def answer(sim: Sim, what: Answer) -> None:
    sim.now += timedelta(milliseconds=5)
    sim.send(SlotDecided(execution_id=sim.ex.id, answer=what, date=sim.now))


def slots_of(sim: Sim) -> list[SlotRequested | SlotReleased | SlotForced]:
    return [m for d in sim.decisions for m in d.slots]


def test_a_created_execution_of_a_limited_flow_asks_for_a_slot_and_runs_nothing() -> None:
    sim = limited()
    assert sim.current() == S.CREATED and sim.jobs == []
    assert slots_of(sim) == [request(sim.ex.id, 1)]


def test_start_runs_the_flow_at_the_keepers_date_and_the_end_releases_the_slot() -> None:
    sim = limited()
    answer(sim, Answer.START)
    granted = sim.now
    assert sim.current() == S.RUNNING and len(sim.jobs) == 1
    sim.until_done()
    assert sim.current() == S.SUCCESS
    assert [(h.state, h.date) for h in sim.ex.state.histories][:2] == [(S.CREATED, T0), (S.RUNNING, granted)]
    assert slots_of(sim)[-1] == release(sim.ex.id)


def test_queue_then_start_records_created_queued_running() -> None:
    sim = limited()
    answer(sim, Answer.QUEUE)
    assert sim.current() == S.QUEUED and sim.jobs == []
    answer(sim, Answer.QUEUE)  # delivered again: nothing new
    answer(sim, Answer.START)
    sim.until_done()
    assert [h.state for h in sim.ex.state.histories] == [S.CREATED, S.QUEUED, S.RUNNING, S.SUCCESS]


@pytest.mark.parametrize(("what", "state"), [(Answer.CANCEL, S.CANCELLED), (Answer.FAIL, S.FAILED)])
def test_cancel_and_fail_end_the_newcomer_without_a_task_run(what: Answer, state: StateType) -> None:
    sim = limited(what.value)
    answer(sim, what)
    assert sim.current() == state
    assert sim.ex.task_run_list == [] and sim.jobs == []
    assert [h.state for h in sim.ex.state.histories] == [S.CREATED, state]
    assert any("concurrency limit exceeded" in entry.message for entry in sim.executor_logs)


def test_a_killed_queued_execution_ends_killed_without_running_and_leaves_the_queue() -> None:
    sim = limited()
    answer(sim, Answer.QUEUE)
    sim.kill()
    assert sim.current() == S.KILLED and sim.ex.task_run_list == []
    assert slots_of(sim)[-1] == release(sim.ex.id)
    answer(sim, Answer.START)  # the keeper granted it before it read the release: ignored
    assert sim.current() == S.KILLED and sim.jobs == []


def test_an_unqueued_execution_runs_now_tells_the_keeper_and_ignores_a_late_start() -> None:
    sim = limited()
    answer(sim, Answer.QUEUE)
    sim.now += timedelta(milliseconds=5)
    sim.send(UnqueueRequested(execution_id=sim.ex.id))
    assert sim.current() == S.RUNNING and len(sim.jobs) == 1
    assert slots_of(sim)[-1] == SlotForced(flow=FLOW, execution_id=sim.ex.id)
    assert any("unqueued" in entry.message for entry in sim.executor_logs)
    answer(sim, Answer.START)  # the keeper's START, sent before it read the forced slot: nothing new
    assert len(sim.jobs) == 1
    sim.until_done()
    assert [h.state for h in sim.ex.state.histories] == [S.CREATED, S.QUEUED, S.RUNNING, S.SUCCESS]
    assert slots_of(sim)[-1] == release(sim.ex.id)


def test_unqueue_of_an_execution_not_queued_changes_nothing() -> None:
    sim = limited()
    sim.send(UnqueueRequested(execution_id=sim.ex.id))  # CREATED: it has no answer yet
    assert sim.current() == S.CREATED and len(slots_of(sim)) == 1


def test_a_flow_without_concurrency_asks_for_nothing() -> None:
    sim = start("id: test\nnamespace: t\ntasks:\n  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}\n")
    sim.until_done()
    assert sim.current() == S.SUCCESS and slots_of(sim) == []


@pytest.mark.parametrize("bad", ["{limit: 0}", "{limit: 2, behavior: WAIT}", "{behavior: QUEUE}", "{limit: 1, x: 1}"])
def test_an_invalid_concurrency_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(FlowError) as error:
        load_flow(LIMITED.replace("concurrency: {limit: 1%s}", f"concurrency: {bad}"))
    assert "concurrency" in str(error.value)


# ---- restart and replay of a limited flow's execution
FAILING = """
id: test
namespace: t
concurrency: {limit: 1%s}
tasks:
  - {id: a, type: io.kestra.plugin.core.execution.Fail}
"""


def failed(behavior: str = "", source: str = FAILING) -> Sim:
    sim = start(source % (f", behavior: {behavior}" if behavior else ""))
    answer(sim, Answer.START)
    sim.until_done()
    assert sim.current() == S.FAILED
    return sim


def restart(sim: Sim) -> None:
    flow = sim.flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    sim.now += timedelta(seconds=1)
    sim.send(RestartRequested(execution_id=sim.ex.id, execution=sim.ex, flow=flow))


def test_a_restart_waits_restarted_for_a_slot_then_runs_its_failed_task_again() -> None:
    sim = failed()
    released = len(slots_of(sim))
    restart(sim)
    assert sim.current() == S.RESTARTED and sim.jobs == []
    assert slots_of(sim)[released:] == [request(sim.ex.id, 1)]
    answer(sim, Answer.QUEUE)
    answer(sim, Answer.START)
    assert [j.task_run.task_id for j in sim.jobs] == ["a"] and sim.jobs[0].attempt == 2
    sim.until_done()
    history = [h.state for h in sim.ex.state.histories]
    assert history == [S.CREATED, S.RUNNING, S.FAILED, S.RESTARTED, S.QUEUED, S.RUNNING, S.FAILED]
    assert slots_of(sim)[-1] == release(sim.ex.id)


def test_a_restart_refused_a_slot_ends_cancelled() -> None:
    sim = failed("CANCEL")
    restart(sim)
    answer(sim, Answer.CANCEL)
    assert sim.current() == S.CANCELLED and sim.jobs == []


def test_a_killed_waiting_restart_ends_killed_without_running() -> None:
    sim = failed()
    restart(sim)
    sim.kill()
    assert sim.current() == S.KILLED and sim.jobs == []
    assert slots_of(sim)[-1] == release(sim.ex.id)


def test_a_replay_waits_for_a_slot_then_runs_the_flow_again() -> None:
    old = failed()
    header, kept = replay(old.ex, old.ex.task_run_list, None)
    new = Sim(old.flow)
    new.send(RestartRequested(execution_id=header.id, execution=header, flow=old.flow.model_dump(by_alias=True)))
    assert new.current() == S.RESTARTED and new.jobs == [] and kept == []
    assert slots_of(new) == [request(header.id, 1)]
    answer(new, Answer.START)
    new.until_done()
    assert [h.state for h in new.ex.state.histories] == [S.RESTARTED, S.RUNNING, S.FAILED]
    assert len(new.runs("a")) == 1


# ---- a change of state that sets an ended execution running again goes through the limit
TWO = """
id: test
namespace: t
concurrency: {limit: 1%s}
tasks:
  - {id: a, type: io.kestra.plugin.core.execution.Fail}
  - {id: b, type: io.kestra.plugin.core.log.Log, message: after}
"""


def failed_two(behavior: str = "") -> Sim:
    return failed(behavior, TWO)


def change_a(sim: Sim) -> None:
    sim.now += timedelta(seconds=1)
    sim.send(ChangeStateRequested(execution_id=sim.ex.id, task_run_id=sim.runs("a")[0].id, state=S.SUCCESS))


def test_a_change_of_state_of_an_ended_execution_waits_for_a_slot_then_applies() -> None:
    sim = failed_two()
    released = len(slots_of(sim))
    change_a(sim)
    assert sim.current() == S.RESTARTED and sim.jobs == []
    assert sim.states("a") == [S.FAILED]  # not yet: it waits with the execution
    assert slots_of(sim)[released:] == [request(sim.ex.id, 1)]
    answer(sim, Answer.QUEUE)
    assert sim.current() == S.QUEUED
    sim.state = _rebuilt(sim)  # a new owner of the partition keeps the waiting change
    answer(sim, Answer.START)
    granted = sim.now
    assert sim.states("a") == [S.SUCCESS] and [j.task_run.task_id for j in sim.jobs] == ["b"]
    sim.until_done()
    history = [(h.state, h.date) for h in sim.ex.state.histories]
    assert [state for state, _ in history] == [
        S.CREATED, S.RUNNING, S.FAILED, S.RESTARTED, S.QUEUED, S.RUNNING, S.SUCCESS
    ]  # fmt: skip
    assert history[5][1] == granted
    assert slots_of(sim)[-1] == release(sim.ex.id)
    assert sim.state is not None and sim.state.then is None


@pytest.mark.parametrize(("what", "state"), [(Answer.CANCEL, S.CANCELLED), (Answer.FAIL, S.FAILED)])
def test_a_change_of_state_refused_a_slot_ends_the_execution_and_changes_nothing(
    what: Answer, state: StateType
) -> None:
    sim = failed_two(what.value)
    change_a(sim)
    answer(sim, what)
    assert sim.current() == state and sim.jobs == []
    assert sim.states("a") == [S.FAILED] and sim.runs("b") == []
    answer(sim, Answer.START)  # a late grant changes nothing
    assert sim.current() == state and sim.states("a") == [S.FAILED]


def test_a_change_of_state_of_a_running_execution_asks_for_no_slot() -> None:
    sim = start(TWO % "")
    answer(sim, Answer.START)
    job = sim.take()
    asked = len(slots_of(sim))
    sim.send(ChangeStateRequested(execution_id=sim.ex.id, task_run_id=job.task_run.id, state=S.WARNING))
    assert sim.states("a") == [S.WARNING] and len(slots_of(sim)) == asked
    assert [j.task_run.task_id for j in sim.jobs] == ["b"]
