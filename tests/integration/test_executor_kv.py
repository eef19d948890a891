"""`kv()` in flowable properties on the real Kafka: the executor's `KvTable` catches the `kv` topic up at most
once per batch and partition, and a flow that sets a key then loops over it (and fails on a missing one) runs
end to end with an executor and a worker in-process."""

from __future__ import annotations

import orjson
import pytest

from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.lookup import partition_count
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.kv import KvStore
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.settings import ExecutorSettings, KafkaSettings, WorkerSettings
from conveyor.common.state import StateType
from conveyor.executor.kv import KvTable
from conveyor.executor.service import Executor
from conveyor.worker.service import Worker
from tests.integration.inprocess import InThreads, ended

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NS = "it.kvflow"


def test_the_table_reads_kafka_once_per_batch_and_partition(kafka_settings: KafkaSettings) -> None:
    producer = Producer(kafka_settings)
    store = KvStore(kafka_settings, producer)
    table = KvTable(kafka_settings)
    try:
        store.put(NS, "colour", "red")
        table.next_batch()
        assert table.get(NS, "colour").value == "red"  # type: ignore[union-attr]
        first = table.catch_ups
        assert first == 1
        store.put(NS, "colour", "blue")
        # Within a batch, a second look-up of the partition reads memory: the value as the batch began.
        assert table.get(NS, "colour").value == "red"  # type: ignore[union-attr]
        assert table.catch_ups == first
        table.next_batch()  # a new batch sees every value written before it was fetched
        assert table.get(NS, "colour").value == "blue"  # type: ignore[union-attr]
        assert table.catch_ups == first + 1
        # A missing key is looked for once in every partition, then the batch knows it is missing.
        table.next_batch()
        assert table.get(NS, "absent") is None
        after = table.catch_ups
        assert table.get(NS, "absent") is None and table.get(NS, "colour") is not None
        assert table.catch_ups == after
        store.delete(NS, "colour")
        table.next_batch()
        assert table.get(NS, "colour") is None
    finally:
        table.close()
        store.close()


FLOW = load_flow(f"""
id: kv-flowables
namespace: {NS}
tasks:
  - {{id: set, type: io.kestra.plugin.core.kv.Set, key: regions, value: ["eu", "us", "ap"], kvType: JSON}}
  - {{id: mode, type: io.kestra.plugin.core.kv.Set, key: mode, value: fast}}
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{{{ kv('regions') }}}}"
    tasks:
      - {{id: show, type: io.kestra.plugin.core.debug.Return, format: "{{{{ taskrun.value }}}}"}}
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ kv('mode') }}}}"
    cases:
      fast:
        - {{id: quick, type: io.kestra.plugin.core.debug.Return, format: "fast"}}
    defaults:
      - {{id: slow, type: io.kestra.plugin.core.debug.Return, format: "slow"}}
  - id: missing
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ kv('never_set') }}}}"
    then:
      - {{id: never, type: io.kestra.plugin.core.debug.Return, format: "no"}}
""")


def test_a_flow_loops_over_a_value_it_has_just_set(kafka_settings: KafkaSettings) -> None:
    services = InThreads(
        [
            Executor(kafka_settings, ExecutorSettings(poll_timeout=0.05)),
            Worker(kafka_settings, WorkerSettings(poll_timeout=0.05, concurrency=2)),
        ]
    )
    try:
        created = new_execution(FLOW)
        producer = Producer(kafka_settings)
        producer.send(Topics.of(kafka_settings).execution_events, created.execution_id, created.to_json())
        producer.flush()
        execution = ended(kafka_settings, [created.execution_id])[created.execution_id]
    finally:
        services.close()
    assert not services.failures, services.failures

    assert execution.state.current is StateType.FAILED
    runs: dict[str, list[object]] = {}
    for run in execution.task_run_list:
        runs.setdefault(run.task_id, []).append(run)
    by_task = {r.task_id: r for r in execution.task_run_list}
    assert sorted(r.outputs["value"] for r in runs["show"]) == ["ap", "eu", "us"]  # type: ignore[attr-defined]
    assert by_task["each"].state.current is StateType.SUCCESS
    assert by_task["quick"].state.current is StateType.SUCCESS and "slow" not in by_task
    assert by_task["missing"].state.current is StateType.FAILED and "never" not in by_task
    logs = Topics.of(kafka_settings).logs
    partitions = [(logs, p) for p in range(partition_count(kafka_settings, logs))]
    lines = [orjson.loads(m.value) for m in read_partitions_to_end(kafka_settings, partitions) if m.value]
    errors = [line["message"] for line in lines if line.get("taskRunId") == by_task["missing"].id]
    assert any("The key 'never_set' does not exist in the namespace 'it.kvflow'." in e for e in errors), errors
