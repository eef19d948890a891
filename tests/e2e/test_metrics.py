"""Every service serves Prometheus metrics and health on CONVEYOR_METRICS_PORT; running a flow moves them."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator

import pytest

from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.servers.process import free_port
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.cli import ROOT
from tests.e2e.conftest import Stack
from tests.e2e.observed import fetch, ready, scrape, total

pytestmark = pytest.mark.e2e
SERVICES = ("executor", "worker", "indexer", "server")


@pytest.fixture(scope="module")
def observed(
    kafka_bootstrap: str,
    elasticsearch_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Stack, dict[str, int]]]:
    prefix = f"e2e-metrics-{uuid.uuid4().hex[:6]}"
    logs = tmp_path_factory.mktemp("metrics-logs")
    env = {
        **os.environ,
        "CONVEYOR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CONVEYOR_KAFKA_TOPIC_PREFIX": f"{prefix}.",
        "CONVEYOR_ELASTICSEARCH_URL": elasticsearch_url,
        "CONVEYOR_ELASTICSEARCH_INDEX_PREFIX": prefix,
        "CONVEYOR_HOME": str(logs / "home"),
        "CONVEYOR_INDEXER_FLUSH_INTERVAL": "0.2",
    }
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=2)
    ensure_topics(kafka)
    stack = Stack(env, kafka, ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix), logs)
    ports = {name: free_port() for name in SERVICES}
    for name, port in ports.items():
        extra = {"CONVEYOR_METRICS_PORT": str(port)}
        if name == "server":
            extra["CONVEYOR_SERVER_PORT"] = str(free_port())
        stack.start(name, name, extra)
    yield stack, ports
    for name in list(stack.procs):
        stack.stop(name)
    if request.session.testsfailed:
        sys.stderr.write(stack.tail(60) + "\n")


def test_services_are_ready_and_running_a_flow_moves_their_metrics(observed: tuple[Stack, dict[str, int]]) -> None:
    stack, ports = observed
    prefix = stack.kafka.topic_prefix
    assert stack.poll(lambda: all(ready(port) for port in ports.values()), timeout=120), stack.tail()
    for name, port in ports.items():
        assert fetch(port, "/healthz")[0] == 200
        assert total(scrape(port), "conveyor_service_info", service=name) == 1
    before = scrape(ports["executor"])

    execution = stack.run_json(ROOT / "examples" / "hello.yaml")
    assert execution["state"]["current"] == "SUCCESS"

    executor = scrape(ports["executor"])
    events = f"{prefix}execution-events"
    consumed = "conveyor_messages_consumed_total"
    assert total(executor, consumed, topic=events) > total(before, consumed, topic=events)
    assert total(executor, "conveyor_messages_produced_total", topic=f"{prefix}worker-jobs") >= 2
    assert total(executor, "conveyor_processing_seconds_count", operation="batch") > total(
        before, "conveyor_processing_seconds_count", operation="batch"
    )

    worker = scrape(ports["worker"])
    assert total(worker, "conveyor_messages_consumed_total", topic=f"{prefix}worker-jobs") >= 2
    assert total(worker, "conveyor_attempts_total", state="SUCCESS") >= 2
    assert total(worker, "conveyor_processing_seconds_count", operation="attempt") >= 2
    assert total(worker, "conveyor_attempts_running") == 0
    # one result per quick attempt (RUNNING is reported only for attempts that run longer)
    assert total(worker, "conveyor_messages_produced_total", topic=f"{prefix}execution-events") >= 2

    # librdkafka reports the lag every 5 s; the indexer flushes every 0.2 s
    def worker_lag_reported() -> bool:
        group = ("group", f"{prefix}worker")
        return any(name == "conveyor_consumer_lag" and group in labels for name, labels in scrape(ports["worker"]))

    assert stack.poll(worker_lag_reported, timeout=30)
    assert stack.poll(lambda: total(scrape(ports["indexer"]), "conveyor_bulk_documents_sum") >= 3, timeout=30)
    indexer = scrape(ports["indexer"])
    assert total(indexer, "conveyor_processing_seconds_count", operation="bulk") >= 1
    assert total(indexer, "conveyor_messages_consumed_total", topic=f"{prefix}taskruns") >= 2
