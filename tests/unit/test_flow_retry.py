"""`behavior: CREATE_NEW_EXECUTION`: a failed execution ends RETRIED and a new one starts (pure core)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from conveyor.common.events import ExecutionCreated
from conveyor.common.state import StateType
from conveyor.executor.decide import Decision, decide
from tests.unit import sim as sim_module
from tests.unit.flows import flow
from tests.unit.sim import Sim, start

S = StateType

FLOW = """
id: again
namespace: t
labels: {team: core}
inputs:
  - {id: who, type: STRING}
retry: {type: constant, interval: PT30S, maxAttempt: 3, behavior: CREATE_NEW_EXECUTION}
tasks:
  - {id: boom, type: io.kestra.plugin.core.execution.Fail}
"""


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[ExecutionCreated]:
    """Every execution a decision asks the shell to create."""
    out: list[ExecutionCreated] = []

    def recording(*args: Any, **kwargs: Any) -> Decision:
        decision = decide(*args, **kwargs)
        out.extend(decision.executions)
        return decision

    monkeypatch.setattr(sim_module, "decide", recording)
    return out


def follow(first: Sim, event: ExecutionCreated) -> Sim:
    """Run the created execution as the executor would, from its creation date."""
    started = event.execution.state.start_date
    assert started is not None
    nxt = Sim(first.flow, now=started)
    nxt.send(event)
    nxt.until_done()
    return nxt


def test_failed_execution_ends_retried_and_a_linked_execution_starts(created: list[ExecutionCreated]) -> None:
    first = start(FLOW, {"who": "ada"})
    first.run_jobs()
    assert first.current() == S.RETRYING and created == []
    assert [len(r.attempts) for r in first.runs("boom")] == [1]  # no new attempt: a new execution instead
    failed_at = first.now
    assert first.fire_next_timer()
    assert first.current() == S.RETRIED
    assert [h.state for h in first.ex.state.histories] == [S.CREATED, S.RUNNING, S.RETRYING, S.RETRIED]
    (event,) = created
    second = event.execution
    assert second.id != first.ex.id and second.original_id == first.ex.id
    assert second.metadata.attempt_number == 2
    assert second.metadata.original_created_date == first.ex.metadata.original_created_date
    assert second.state.start_date == failed_at + timedelta(seconds=30)
    assert second.inputs == {"who": "ada"}
    # The flow's labels, and the first execution's correlation id (the reference's system label).
    assert {(label.key, label.value) for label in second.labels} == {
        ("team", "core"),
        ("system.correlationId", first.ex.id),
    }
    assert event.flow["id"] == "again"


def test_max_attempt_counts_executions(created: list[ExecutionCreated]) -> None:
    first = start(FLOW, {"who": "ada"})
    first.until_done()
    second = follow(first, created[0])
    assert second.current() == S.RETRIED
    third = follow(second, created[1])
    assert third.current() == S.FAILED and len(created) == 2
    assert third.ex.metadata.attempt_number == 3 and third.ex.original_id == first.ex.id


def test_max_duration_counts_from_the_first_execution(created: list[ExecutionCreated]) -> None:
    flow = FLOW.replace("maxAttempt: 3", "maxAttempt: 10, maxDuration: PT50S")
    first = start(flow, {"who": "ada"})
    first.until_done()
    second = follow(first, created[0])
    assert second.current() == S.FAILED and len(created) == 1  # 30 s + 30 s > 50 s


def test_kill_while_waiting_for_the_new_execution_ends_killed(created: list[ExecutionCreated]) -> None:
    first = start(FLOW, {"who": "ada"})
    first.run_jobs()
    assert first.current() == S.RETRYING
    first.kill()
    assert first.current() == S.KILLED and first.timers == [] and created == []


def test_task_level_create_new_execution_and_retry_failed_task_side_by_side(created: list[ExecutionCreated]) -> None:
    first = start(
        flow("""
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    retry: {type: constant, interval: PT1S, maxAttempt: 2}
  - {id: never, type: io.kestra.plugin.core.log.Log, message: x}
retry: {type: constant, interval: PT1S, maxAttempt: 2, behavior: CREATE_NEW_EXECUTION}
""")
    )
    first.until_done()
    # the task's own policy wins: two attempts on one task run, then the execution fails for good
    assert first.current() == S.FAILED and created == []
    assert [len(r.attempts) for r in first.runs("flaky")] == [2]
