"""The executor's pipelined batches on the real broker: a batch is decided while the previous one commits,
and when that commit fails, what was decided meanwhile is rolled back with it (decided again from the
committed state), so that every task run still gets exactly one visible job."""

from __future__ import annotations

from collections import Counter

import pytest

from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import StateType
from tests.integration.test_executor import Harness, executor, harness  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EXECUTIONS = 12


def test_a_fenced_commit_rolls_back_the_batch_decided_while_it_ran(
    kafka_settings: KafkaSettings,
    harness: Harness,  # noqa: F811
) -> None:
    seen: Counter[tuple[str, str]] = Counter()
    with executor(kafka_settings) as ex:
        assert ex.settings.pipeline and ex.producer.transactional_id
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
