"""SIGKILL of the executor midway through a 20,000-task-run ForEach: a replacement rebuilds the execution
from its per-task-run records and the execution ends SUCCESS, every task run exactly once, in Elasticsearch
as in Kafka."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from conveyor.common.kafka.executions import ExecutionReader
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.state import StateType
from tests.e2e.conftest import Stack
from tests.e2e.test_faults import check_index_matches_kafka

pytestmark = pytest.mark.e2e

N = 20_000
WORKERS = 2
WORKER_ENV = {"CONVEYOR_WORKER_CONCURRENCY": "8"}
FLOW = f"""
id: big-loop
namespace: conveyor.chaos
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{{{ range({N}) | list }}}}"
    concurrencyLimit: 0
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ taskrun.value }}}}"
"""


def test_the_executor_killed_midway_through_a_large_foreach(e2e_stack: Stack) -> None:
    reader = ExecutionReader(e2e_stack.kafka)
    producer = Producer(e2e_stack.kafka)
    try:
        created = new_execution(load_flow(FLOW))
        execution_id = created.execution_id
        producer.send(Topics.of(e2e_stack.kafka).execution_events, execution_id, created.to_json())
        producer.flush()
        deadline = time.monotonic() + 300
        while reader.assembler.count(execution_id) < N // 3:
            assert time.monotonic() < deadline, f"only {reader.assembler.count(execution_id)} task runs seen"
            reader.poll(0.2)
        e2e_stack.kill("executor")
        e2e_stack.start("executor-2", "executor")
        final = reader.ended([execution_id], timeout=600).get(execution_id)
        assert final is not None and final.state.current == StateType.SUCCESS, e2e_stack.tail()
        keys = Counter((run.task_id, run.value) for run in final.task_run_list)
        assert len(keys) == N + 1 and set(keys.values()) == {1}
        assert final.task_run_count == N + 1
        assert all(run.state.current == StateType.SUCCESS for run in final.task_run_list)
        assert all(len(run.attempts) >= 1 for run in final.task_run_list if run.task_id == "ret")
        indexed = check_index_matches_kafka(e2e_stack, timeout=300)
        assert indexed == N + 1
    finally:
        reader.close()
        producer.flush()
