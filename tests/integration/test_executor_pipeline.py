"""The executor's pipelined batches (the default) on the real broker: a batch is decided while the previous
one commits, and when that commit fails, what was decided meanwhile is rolled back with it (decided again from the
committed state), so that every task run still gets exactly one visible job."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from conveyor.common.events import TaskResult
from conveyor.common.kafka.producer import Producer
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import StateType
from conveyor.executor import service
from tests.integration.test_executor import Harness, executor, harness  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EXECUTIONS = 12


@pytest.mark.parametrize("pipeline", [True, False], ids=["pipelined", "serial"])
def test_a_fenced_commit_rolls_back_the_batch_decided_while_it_ran(
    kafka_settings: KafkaSettings,
    harness: Harness,  # noqa: F811
    pipeline: bool,
) -> None:
    # Serial (CONVEYOR_EXECUTOR_PIPELINE=false), no batch is decided during a commit: the fenced one alone
    # is rolled back; the same checks hold.
    seen: Counter[tuple[str, str]] = Counter()
    with executor(kafka_settings, pipeline=pipeline) as ex:
        assert ex.producer.transactional_id
        ids = [harness.submit() for _ in range(EXECUTIONS)]
        firsts = [harness.next_job() for _ in ids]
        for job in firsts:
            seen[(job.task_run.execution_id, job.task_run.task_id)] += 1
        # Half the results in, then another producer takes the executor's transactional id: the executor's
        # open transaction is aborted and its next commit fails (fenced) while the other half is decided.
        for job in firsts[: EXECUTIONS // 2]:
            harness.answer(job, "one")
        fencer = Producer(kafka_settings, transactional_id=ex.producer.transactional_id)
        for job in firsts[EXECUTIONS // 2 :]:
            harness.answer(job, "one")
        del fencer
        # every second-task job, exactly once (the aborted batches' jobs are never visible)
        while len(seen) < 2 * EXECUTIONS:
            job = harness.next_job(timeout=60)
            seen[(job.task_run.execution_id, job.task_run.task_id)] += 1
            harness.answer(job, "one two")
        finals = [harness.final(i, timeout=60) for i in ids]
    assert all(final.state.current == StateType.SUCCESS for final in finals)
    assert all(len(final.task_run_list) == 2 for final in finals)
    assert set(seen.values()) == {1}, [key for key, count in seen.items() if count > 1]


LOOP = load_flow("""
id: loop
namespace: conveyor.tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    concurrencyLimit: 0
    values: "{{ range(120) | list }}"
    tasks:
      - {id: r, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.value }}"}
""")


def test_a_full_batch_gives_the_rest_of_its_events_back_to_the_next_one(
    kafka_settings: KafkaSettings,
    harness: Harness,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A batch holds at most 30 records: the 120 iterations' results, consumed many at a time, are split over
    # batches, the events past each cut consumed again; each iteration still gets exactly one job.
    monkeypatch.setattr(service, "OUTBOX_MOST", 30)
    created = new_execution(LOOP)
    seen: Counter[str] = Counter()
    with executor(kafka_settings, batch_size=500, pipeline=True):
        harness.producer.send(harness.topics.execution_events, created.execution_id, created.to_json())
        harness.producer.flush()
        jobs = [harness.next_job(timeout=60) for _ in range(120)]  # all started by the first decision
        for job in jobs:
            seen[job.context["taskrun"]["value"]] += 1
            for state in (StateType.RUNNING, StateType.SUCCESS):  # all at once: fetched together, cut in batches
                result = TaskResult(
                    execution_id=created.execution_id,
                    task_run_id=job.task_run.id,
                    attempt=job.attempt,
                    state=state,
                    date=datetime.now(UTC),
                    worker_id="test",
                    outputs={"value": "x"} if state == StateType.SUCCESS else None,
                )
                harness.producer.send(harness.topics.execution_events, created.execution_id, result.to_json())
        harness.producer.flush()
        final = harness.final(created.execution_id, timeout=120)
        assert harness.jobs.consume(10, 1.0) == []  # no job sent again
    assert final.state.current == StateType.SUCCESS
    assert len(final.task_run_list) == 121
    assert set(seen.values()) == {1}
