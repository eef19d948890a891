"""A flow using `secret()`, the kv tasks, `kv()` and `tasks.<id>.state`, end to end on the real Kafka and
Elasticsearch with the executor, a worker and the indexer in-process: the values come through, and the
secret's value is in no Kafka record (logs, task runs, events) and no Elasticsearch document."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow, load_flow_file
from conveyor.common.settings import (
    ElasticsearchSettings,
    ExecutorSettings,
    IndexerSettings,
    KafkaSettings,
    WorkerSettings,
)
from conveyor.common.state import StateType
from conveyor.executor.service import Executor
from conveyor.indexer.service import Indexer
from conveyor.worker.service import Worker
from tests.integration.inprocess import InThreads, ended

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-value-never-shown"

FLOW = load_flow("""
id: secrets-kv
namespace: it.secrets
tasks:
  - {id: set, type: io.kestra.plugin.core.kv.Set, key: greeting, value: {who: ada}, kvType: JSON}
  - {id: get, type: io.kestra.plugin.core.kv.Get, key: greeting}
  - {id: read, type: io.kestra.plugin.core.debug.Return, format: "{{ kv('greeting').who }} {{ outputs.get.value.who }}"}
  - {id: log, type: io.kestra.plugin.core.log.Log, message: "token={{ secret('API_TOKEN') }}"}
  - id: echo
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["echo token=$TOKEN"]
    env: {TOKEN: "{{ secret('API_TOKEN') }}"}
  - {id: ret, type: io.kestra.plugin.core.debug.Return, format: "{{ secret('API_TOKEN') }}"}
  - {id: state, type: io.kestra.plugin.core.debug.Return, format: "{{ tasks.ret.state }}"}
  - {id: del, type: io.kestra.plugin.core.kv.Delete, key: greeting}
  - {id: gone, type: io.kestra.plugin.core.debug.Return, format: "{{ kv('greeting', errorOnMissing=false) ?? 'gone' }}"}
  - {id: fail, type: io.kestra.plugin.core.execution.Fail, errorMessage: "boom {{ secret('API_TOKEN') }}"}
""")


def poll(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.5)


def test_a_flow_with_secrets_and_the_kv_store(
    kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_API_TOKEN", base64.b64encode(SECRET.encode()).decode())
    services = InThreads(
        [
            Executor(kafka_settings, ExecutorSettings(poll_timeout=0.05)),
            Worker(kafka_settings, WorkerSettings(poll_timeout=0.05, concurrency=2)),
            Indexer(kafka_settings, es_settings, IndexerSettings(flush_interval=0.2), backoff=(0.1, 0.5)),
        ]
    )
    try:
        created = new_execution(FLOW)
        producer = Producer(kafka_settings)
        producer.send(Topics.of(kafka_settings).execution_events, created.execution_id, created.to_json())
        producer.flush()
        execution = ended(kafka_settings, [created.execution_id])[created.execution_id]
        client = elasticsearch_client(es_settings)
        index = f"{es_settings.index_prefix}*"

        def logs_indexed() -> bool:
            client.indices.refresh(index=index)
            hits = client.search(index=index, query={"match_phrase": {"message": "token="}})["hits"]["total"]
            return bool(hits["value"] >= 2)

        poll(logs_indexed, 90)
    finally:
        services.close()
    assert not services.failures, services.failures

    assert execution.state.current is StateType.FAILED
    runs = {r.task_id: r for r in execution.task_run_list}
    assert runs["read"].outputs == {"value": "ada ada"}
    assert runs["ret"].outputs == {"value": "******"}
    assert runs["state"].outputs == {"value": "SUCCESS"}
    assert runs["del"].outputs == {"deleted": True}
    assert runs["gone"].outputs == {"value": "gone"}
    assert runs["fail"].state.current is StateType.FAILED

    topics = Topics.of(kafka_settings)
    for topic in (topics.logs, topics.taskruns, topics.execution_events, topics.executions, topics.kv):
        for partition in range(2):
            for msg in read_partitions_to_end(kafka_settings, [(topic, partition)]):
                assert SECRET.encode() not in (msg.value or b""), topic

    client.indices.refresh(index=index)
    leaked = client.search(index=index, query={"query_string": {"query": f'"{SECRET}"'}})
    assert leaked["hits"]["total"]["value"] == 0
    messages = [
        h["_source"]["message"]
        for h in client.search(index=index, query={"match_phrase": {"message": "token="}})["hits"]["hits"]
    ]
    assert sorted(messages) == ["token=******", "token=******"]
    everything = client.search(index=index, size=1000, query={"match_all": {}})["hits"]["hits"]
    assert everything and not any(SECRET in str(h["_source"]) for h in everything)
    assert any("boom ******" in str(h["_source"]) for h in everything)
    client.close()


def test_the_kv_example_counts_its_runs(kafka_settings: KafkaSettings) -> None:
    flow = load_flow_file(ROOT / "examples" / "kv-store.yaml")
    services = InThreads(
        [
            Executor(kafka_settings, ExecutorSettings(poll_timeout=0.05)),
            Worker(kafka_settings, WorkerSettings(poll_timeout=0.05, concurrency=2)),
        ]
    )
    finals = []
    try:
        producer = Producer(kafka_settings)
        for _ in range(2):  # one after the other: the second reads what the first set
            created = new_execution(flow)
            producer.send(Topics.of(kafka_settings).execution_events, created.execution_id, created.to_json())
            producer.flush()
            finals.append(ended(kafka_settings, [created.execution_id])[created.execution_id])
    finally:
        services.close()
    assert not services.failures, services.failures
    assert [e.state.current for e in finals] == [StateType.SUCCESS, StateType.SUCCESS]
    counted = [{r.task_id: r for r in e.task_run_list}["previous"].outputs for e in finals]
    assert counted == [{"value": None}, {"value": 1}]
    assert [{r.task_id: r for r in e.task_run_list}["clean"].outputs for e in finals] == [{"deleted": True}] * 2
