"""A broker restart mid-run: executor, worker and indexer reconnect and finish every execution by themselves.

The broker is this test's own (`conveyor.common.servers.start_kafka` with a data folder, restarted on the
same port and data), never the shared one. Elasticsearch is the shared one (the indexer's Elasticsearch
outages are covered by `test_indexer`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.servers.kafka import KafkaServer, start_kafka
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

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

FLOW = load_flow("""
id: nap
namespace: conveyor.tests
tasks:
  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.2S}
  - {id: done, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.id }}"}
""")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[list[KafkaServer]]:
    servers = [start_kafka(tmp_path / "kafka")]
    yield servers
    servers[-1].stop()


def submit(settings: KafkaSettings, count: int) -> list[str]:
    producer = Producer(settings)
    ids = []
    for _ in range(count):
        created = new_execution(FLOW)
        producer.send(Topics.of(settings).execution_events, created.execution_id, created.to_json())
        ids.append(created.execution_id)
    producer.flush()
    return ids


def test_services_ride_out_a_broker_restart(
    broker: list[KafkaServer], tmp_path: Path, es_settings: ElasticsearchSettings
) -> None:
    kafka = KafkaSettings(bootstrap=broker[0].bootstrap, topic_prefix="restart.", partitions=2)
    ensure_topics(kafka)
    stop = threading.Event()
    failures: list[BaseException] = []
    services = [
        Executor(kafka, ExecutorSettings(poll_timeout=0.05)),
        Worker(kafka, WorkerSettings(poll_timeout=0.05, concurrency=8)),
        Indexer(kafka, es_settings, IndexerSettings(flush_interval=0.2)),
    ]

    def run(service: Executor | Worker | Indexer) -> None:
        try:
            service.run(stop)
        except BaseException as exc:  # surfaced in the test
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in services]
    for thread in threads:
        thread.start()
    ids = submit(kafka, 30)
    time.sleep(1.0)  # mid-run: some executions ended, some running, some not started
    port = int(broker[0].bootstrap.rsplit(":", 1)[1])
    broker[0].stop()
    time.sleep(3.0)
    broker.append(start_kafka(tmp_path / "kafka", port=port))
    ids += submit(kafka, 30)

    snapshots = Consumer(kafka, "test-snapshots", [Topics.of(kafka).executions])
    latest: dict[str, Execution] = {}
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline and not all(i in latest and latest[i].state.terminal for i in ids):
            for msg in snapshots.consume(500, 0.5):
                execution = Execution.model_validate_json(msg.value())
                latest[execution.id] = execution
    finally:
        snapshots.close()
    assert not failures, failures
    assert {latest[i].state.current for i in ids if i in latest} == {StateType.SUCCESS}
    assert len([i for i in ids if i in latest and latest[i].state.terminal]) == len(ids)
    for i in ids:
        runs = latest[i].task_run_list
        assert [r.task_id for r in runs] == ["nap", "done"]

    client: Elasticsearch = elasticsearch_client(es_settings)
    index = f"{es_settings.index_prefix}-taskruns"
    expected = {r.id for i in ids for r in latest[i].task_run_list}
    deadline = time.monotonic() + 60
    found: set[str] = set()
    while time.monotonic() < deadline and found != expected:
        client.indices.refresh(index=index, ignore_unavailable=True)
        hits = client.search(index=index, size=1000, query={"term": {"state.current": "SUCCESS"}}, source=["id"])
        found = {hit["_id"] for hit in hits["hits"]["hits"]}
        time.sleep(0.5)
    client.close()
    stop.set()
    for thread in threads:
        thread.join(60)
    assert found == expected
    assert not failures, failures
