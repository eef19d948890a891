"""A broker restart mid-run: executor, worker and indexer reconnect and finish every execution by themselves.

The broker is this test's own (`conveyor.common.servers.start_kafka` with a data folder, restarted on the
same port and data), never the shared one. Elasticsearch is the shared one (the indexer's Elasticsearch
outages are covered by `test_indexer`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.admin import ensure_topics
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
from tests.integration.inprocess import InThreads, ended, submit

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[list[KafkaServer]]:
    servers = [start_kafka(tmp_path / "kafka")]
    yield servers
    servers[-1].stop()


def test_services_ride_out_a_broker_restart(
    broker: list[KafkaServer], tmp_path: Path, es_settings: ElasticsearchSettings
) -> None:
    kafka = KafkaSettings(bootstrap=broker[0].bootstrap, topic_prefix="restart.", partitions=2)
    ensure_topics(kafka)
    services = InThreads(
        [
            Executor(kafka, ExecutorSettings(poll_timeout=0.05)),
            Worker(kafka, WorkerSettings(poll_timeout=0.05, concurrency=8)),
            Indexer(kafka, es_settings, IndexerSettings(flush_interval=0.2)),
        ]
    )
    ids = submit(kafka, 30)
    time.sleep(1.0)  # mid-run: some executions ended, some running, some not started
    port = int(broker[0].bootstrap.rsplit(":", 1)[1])
    broker[0].stop()
    time.sleep(3.0)
    broker.append(start_kafka(tmp_path / "kafka", port=port))
    ids += submit(kafka, 30)

    latest = ended(kafka, ids)
    assert not services.failures, services.failures
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
        hits = client.search(
            index=index, size=1000, query={"term": {"state.current": "SUCCESS"}}, source_includes=["id"]
        )
        found = {hit["_id"] for hit in hits["hits"]["hits"]}
        time.sleep(0.5)
    client.close()
    services.close()
    assert found == expected
    assert not services.failures, services.failures
