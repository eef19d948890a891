"""An Elasticsearch restart mid-run: the indexer keeps every document it could not write and writes it once
Elasticsearch is back, and a long-lived query client answers again, with nobody restarting anything.

Elasticsearch is this test's own (`start_elasticsearch` with a data folder, stopped for real and started
again on the same port and data), never the shared one; Kafka is the shared one. The executions submitted
while Elasticsearch is down all end before it comes back, so their documents can only get there through
the indexer riding out the outage."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from elasticsearch import ApiError, Elasticsearch, TransportError

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import TaskRunChange
from conveyor.common.kafka.topics import Topics
from conveyor.common.servers.elasticsearch import ElasticsearchServer, start_elasticsearch
from conveyor.common.settings import (
    ElasticsearchSettings,
    ExecutorSettings,
    IndexerSettings,
    KafkaSettings,
    WorkerSettings,
)
from conveyor.executor.service import Executor
from conveyor.indexer.queries import Page, search_executions, search_taskruns
from conveyor.indexer.service import Indexer
from conveyor.worker.service import Worker
from tests.integration.inprocess import InThreads, ended, newest, submit

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PREFIX = "restart"
Indexed = tuple[int, dict[str, tuple[str, int]]]


@pytest.fixture
def elasticsearch(tmp_path: Path) -> Iterator[list[ElasticsearchServer]]:
    servers = [start_elasticsearch(tmp_path / "es")]
    yield servers
    servers[-1].stop()
    # Under root the node may keep its files in a stand-in folder outside tmp_path.
    shutil.rmtree(servers[-1].data_dir, ignore_errors=True)


def poll(check: Callable[[], bool], timeout: float) -> None:
    """Wait until `check()` holds or `timeout` passes; the caller asserts what it expects."""
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.5)


def indexed(client: Elasticsearch) -> tuple[Indexed, Indexed]:
    """(hit count, {id: (state, revision)}) of the task runs and of the executions, through the queries."""

    def summary(page: Page) -> Indexed:
        return page.total, {d["id"]: (d["state"]["current"], d["revision"]) for d in page.results}

    return summary(search_taskruns(client, PREFIX, size=1000)), summary(search_executions(client, PREFIX, size=1000))


def test_indexer_and_queries_ride_out_an_elasticsearch_restart(
    elasticsearch: list[ElasticsearchServer], tmp_path: Path, kafka_settings: KafkaSettings
) -> None:
    es = ElasticsearchSettings(url=elasticsearch[0].url, index_prefix=PREFIX)
    # A short backoff cap only keeps the test short; the default (30 s) recovers the same way.
    indexer = Indexer(kafka_settings, es, IndexerSettings(flush_interval=0.2), backoff=(0.5, 4.0))
    services = InThreads(
        [
            Executor(kafka_settings, ExecutorSettings(poll_timeout=0.05)),
            Worker(kafka_settings, WorkerSettings(poll_timeout=0.05, concurrency=8)),
            indexer,
        ]
    )
    query = elasticsearch_client(es)  # like `conveyor server`'s: one client for the process's whole life
    try:
        ids = submit(kafka_settings, 20)
        poll(lambda: search_taskruns(query, PREFIX, size=1).total > 0, 60)
        assert search_taskruns(query, PREFIX, size=1).total > 0  # indexing was under way before the stop
        port = int(elasticsearch[0].url.rsplit(":", 1)[1])
        elasticsearch[0].stop()
        with pytest.raises(TransportError):
            search_taskruns(query, PREFIX)
        ids += submit(kafka_settings, 20)
        latest = ended(kafka_settings, ids)  # Elasticsearch is still down
        assert {i: latest[i].state.current.value for i in ids if i in latest} == dict.fromkeys(ids, "SUCCESS")
        run_ids = {r.id for i in ids for r in latest[i].task_run_list}
        assert len(run_ids) == 2 * len(ids)

        changes = newest(
            kafka_settings,
            Topics.of(kafka_settings).taskruns,
            TaskRunChange.model_validate_json,
            lambda got: run_ids <= got.keys() and all(got[r].task_run.state.terminal for r in run_ids),
            60,
        )
        assert changes.keys() == run_ids  # the compacted topic holds exactly these task runs
        runs = {key: (c.task_run.state.current.value, c.revision) for key, c in changes.items()}
        executions = {i: (latest[i].state.current.value, latest[i].revision) for i in ids}
        expected = ((len(runs), runs), (len(executions), executions))

        elasticsearch.append(start_elasticsearch(tmp_path / "es", port=port))

        def caught_up() -> bool:
            try:
                return indexed(query) == expected
            except (ApiError, TransportError):  # shards still recovering
                return False

        poll(caught_up, 120)
        assert indexed(query) == expected
        with elasticsearch_client(es) as fresh:
            assert indexed(fresh) == expected
    finally:
        services.close()
        query.close()
    assert not services.failures, services.failures
