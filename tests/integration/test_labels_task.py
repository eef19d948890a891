"""The Labels task end to end on the real Kafka and Elasticsearch, with the executor, a worker and the indexer
in-process: the labels it sets are on the execution's header and document (the executions search finds it by
them) and on the task runs published after it (the Task Runs search finds those); a `system.` key fails it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.settings import (
    ElasticsearchSettings,
    ExecutorSettings,
    IndexerSettings,
    KafkaSettings,
    WorkerSettings,
)
from conveyor.common.state import StateType
from conveyor.executor.service import Executor
from conveyor.indexer import queries
from conveyor.indexer.filters import TaskRunFilters
from conveyor.indexer.service import Indexer
from conveyor.worker.service import Worker
from tests.integration.inprocess import InThreads, ended

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

FLOW = load_flow("""
id: labelled-at-runtime
namespace: it.labels
labels: {team: data}
inputs:
  - {id: customer, type: STRING}
tasks:
  - {id: before, type: io.kestra.plugin.core.debug.Return, format: "{{ labels.team }}"}
  - id: set
    type: io.kestra.plugin.core.execution.Labels
    labels:
      customer: "{{ inputs.customer }}"
      team: ml
  - {id: after, type: io.kestra.plugin.core.debug.Return, format: "{{ labels.team }} {{ labels.customer }}"}
""")

REFUSED = load_flow("""
id: system-label
namespace: it.labels
tasks:
  - {id: set, type: io.kestra.plugin.core.execution.Labels, labels: [{key: system.correlationId, value: mine}]}
""")


def poll(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_the_labels_task_labels_the_running_execution(
    kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings
) -> None:
    services = InThreads(
        [
            Executor(kafka_settings, ExecutorSettings(poll_timeout=0.05)),
            Worker(kafka_settings, WorkerSettings(poll_timeout=0.05, concurrency=2)),
            Indexer(kafka_settings, es_settings, IndexerSettings(flush_interval=0.2), backoff=(0.1, 0.5)),
        ]
    )
    client = elasticsearch_client(es_settings)
    prefix = es_settings.index_prefix
    try:
        created = new_execution(FLOW, {"customer": "acme"})
        refused = new_execution(REFUSED)
        producer = Producer(kafka_settings)
        for one in (created, refused):
            producer.send(Topics.of(kafka_settings).execution_events, one.execution_id, one.to_json())
        producer.flush()
        done = ended(kafka_settings, [created.execution_id, refused.execution_id])

        def indexed() -> bool:
            client.indices.refresh(index=f"{prefix}*")
            found = queries.search_taskruns(client, prefix, TaskRunFilters(labels={"customer": "acme"}))
            return found.total >= 1 and queries.search_executions(client, prefix, labels={"customer": "acme"}).total > 0

        reached = poll(indexed, 90)
    finally:
        services.close()
    assert not services.failures, services.failures

    execution = done[created.execution_id]
    assert execution.state.current is StateType.SUCCESS
    labels = {label.key: label.value for label in execution.labels}
    assert labels["team"] == "ml" and labels["customer"] == "acme"
    runs = {r.task_id: r for r in execution.task_run_list}
    assert runs["before"].outputs == {"value": "data"}
    assert runs["after"].outputs == {"value": "ml acme"}
    assert runs["set"].state.current is StateType.SUCCESS and len(runs["set"].attempts) == 1

    wrong = done[refused.execution_id]
    assert wrong.state.current is StateType.FAILED
    (attempt,) = wrong.task_run_list[0].attempts
    assert attempt.error is not None and "offending label: system.correlationId=mine" in attempt.error
    assert {label.key: label.value for label in wrong.labels}["system.correlationId"] == wrong.id

    try:
        assert reached, "the runtime labels never reached the indices"
        found = queries.search_executions(client, prefix, labels={"customer": "acme", "team": "ml"})
        assert [hit["id"] for hit in found.results] == [execution.id]
        assert queries.search_executions(client, prefix, labels={"team": "data"}).total == 0
        runs_found = queries.search_taskruns(client, prefix, TaskRunFilters(labels={"customer": "acme"}))
        # The task runs published from the Labels task on carry the new labels.
        assert {"set", "after"} <= {hit["taskId"] for hit in runs_found.results}
    finally:
        client.close()
