"""Metrics hooks and the /metrics, /healthz, /readyz endpoint, without Kafka."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from conveyor.common import metrics
from conveyor.common.observability import Health, ObservabilityServer, serve_observability
from conveyor.common.settings import MetricsSettings


def value(name: str, labels: dict[str, str]) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def partition(end: int, app: int = -1, committed: int = -1, low: int = 0, desired: bool = True) -> dict[str, Any]:
    return {"ls_offset": end, "hi_offset": end, "app_offset": app, "committed_offset": committed,
            "lo_offset": low, "desired": desired}  # fmt: skip


def stats(partitions: dict[str, dict[str, Any]], topic: str = "p.worker-jobs") -> str:
    return json.dumps({"topics": {topic: {"partitions": partitions}}})


def test_lag_is_what_the_consumer_has_not_read_yet() -> None:
    lag = metrics.partition_lag(
        json.loads(
            stats(
                {
                    "0": partition(end=100, app=40, committed=30),  # read up to 40
                    "1": partition(end=100, committed=70),  # nothing read since assignment
                    "2": partition(end=100, low=90),  # nothing ever committed
                    "3": partition(end=100, desired=False),  # not assigned to us
                    "-1": partition(end=5),  # librdkafka's internal partition
                }
            )
        )
    )
    assert lag == {("p.worker-jobs", 0): 60, ("p.worker-jobs", 1): 30, ("p.worker-jobs", 2): 10}


def test_lag_reporter_sets_and_drops_partitions_and_chains() -> None:
    seen: list[str] = []
    reporter = metrics.LagReporter("g-lag", seen.append)
    labels = {"service": metrics.service(), "group": "g-lag", "topic": "p.worker-jobs"}
    reporter(stats({"0": partition(end=10, app=4), "1": partition(end=3, app=3)}))
    assert value("conveyor_consumer_lag", {**labels, "partition": "0"}) == 6
    assert value("conveyor_consumer_lag", {**labels, "partition": "1"}) == 0
    reporter(stats({"1": partition(end=9, app=3)}))  # partition 0 revoked
    assert metrics.REGISTRY.get_sample_value("conveyor_consumer_lag", {**labels, "partition": "0"}) is None
    assert value("conveyor_consumer_lag", {**labels, "partition": "1"}) == 6
    reporter("not json")  # never raises inside librdkafka's callback
    assert len(seen) == 3


def test_consumed_and_delivered_count_per_topic() -> None:
    labels = {"service": metrics.service(), "topic": "p.count-test"}
    before = value("conveyor_messages_consumed_total", labels)
    metrics.consumed(["p.count-test", "p.count-test", "p.other"])
    metrics.delivered("p.count-test", ok=True)
    metrics.delivered("p.count-test", ok=False)
    assert value("conveyor_messages_consumed_total", labels) == before + 2
    assert value("conveyor_messages_produced_total", labels) >= 1
    assert value("conveyor_produce_errors_total", labels) >= 1


def test_timed_batch_records_only_batches_that_handled_something() -> None:
    labels = {"service": metrics.service(), "operation": "test-batch"}

    @metrics.timed_batch("test-batch")
    def step(n: int) -> int:
        metrics.consumed([])
        return n

    step(0)
    assert value("conveyor_processing_seconds_count", labels) == 0
    step(3)
    step(1)
    assert value("conveyor_processing_seconds_count", labels) == 2


@dataclass
class Result:
    state: str


@dataclass
class Bulk:
    rejected: list[str] = field(default_factory=list)


def test_timed_attempt_counts_running_attempts_and_final_states() -> None:
    service = metrics.service()
    during: list[float] = []

    @metrics.timed_attempt
    def run(result: Result | None) -> Result | None:
        during.append(value("conveyor_attempts_running", {"service": service}))
        return result

    success = value("conveyor_attempts_total", {"service": service, "state": "SUCCESS"})
    abandoned = value("conveyor_attempts_total", {"service": service, "state": "ABANDONED"})
    run(Result("SUCCESS"))
    run(None)
    assert during == [1.0, 1.0]
    assert value("conveyor_attempts_running", {"service": service}) == 0
    assert value("conveyor_attempts_total", {"service": service, "state": "SUCCESS"}) == success + 1
    assert value("conveyor_attempts_total", {"service": service, "state": "ABANDONED"}) == abandoned + 1


def test_timed_bulk_records_sizes_rejections_and_failures() -> None:
    labels = {"service": metrics.service()}

    @metrics.timed_bulk
    def write(client: object, pending: list[int]) -> Bulk:
        if not pending:
            raise ConnectionError("down")
        return Bulk(rejected=["bad"] if len(pending) > 2 else [])

    count = value("conveyor_bulk_documents_count", labels)
    total = value("conveyor_bulk_documents_sum", labels)
    rejected = value("conveyor_bulk_failures_total", {**labels, "kind": "rejected"})
    errors = value("conveyor_bulk_failures_total", {**labels, "kind": "error"})
    write(None, [1, 2, 3])
    with pytest.raises(ConnectionError):
        write(None, [])
    assert value("conveyor_bulk_documents_count", labels) == count + 2
    assert value("conveyor_bulk_documents_sum", labels) == total + 3
    assert value("conveyor_bulk_failures_total", {**labels, "kind": "rejected"}) == rejected + 1
    assert value("conveyor_bulk_failures_total", {**labels, "kind": "error"}) == errors + 1


# The last poll the health checks see: this test's own, not that of some consumer thread another test left
# running in this process (the whole suite runs in one).
_last_poll = [0.0]


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[ObservabilityServer]:
    _last_poll[0] = 0.0
    monkeypatch.setattr(metrics, "last_poll", lambda: _last_poll[0])
    monkeypatch.setattr(metrics, "_service", metrics.service())  # restored afterwards
    server = serve_observability("test-service", MetricsSettings(port=0, stall_seconds=60))
    assert server is not None
    yield server
    server.stop()


def get(server: ObservabilityServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_endpoint_serves_metrics_and_health(endpoint: ObservabilityServer, monkeypatch: pytest.MonkeyPatch) -> None:
    status, text = get(endpoint, "/metrics")
    assert status == 200
    assert 'conveyor_service_info{service="test-service",version=' in text
    assert "process_cpu_seconds_total" in text

    # before the first poll: alive (waiting for topics or Elasticsearch), not ready
    assert get(endpoint, "/healthz")[0] == 200
    status, body = get(endpoint, "/readyz")
    assert (status, json.loads(body)["ready"]) == (503, False)

    _last_poll[0] = time.monotonic()  # the service's loop polled
    assert get(endpoint, "/readyz")[0] == 200
    assert get(endpoint, "/healthz")[0] == 200

    _last_poll[0] = time.monotonic() - 61  # the loop has been stuck for 61 s
    status, body = get(endpoint, "/healthz")
    assert status == 503
    assert json.loads(body)["secondsSinceLastPoll"] >= 61
    assert get(endpoint, "/readyz")[0] == 503
    assert get(endpoint, "/nothing")[0] == 404


def test_a_service_without_a_kafka_loop_is_ready_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "last_poll", lambda: 0.0)
    assert Health(60, polls=False).report()["ready"] is True
    assert Health(60, polls=True).report()["ready"] is False


def test_no_port_no_endpoint_and_a_taken_port_is_a_clear_error() -> None:
    assert serve_observability("test-service", MetricsSettings()) is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            serve_observability("test-service", MetricsSettings(port=port))


def test_an_empty_port_variable_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_METRICS_PORT", "")
    assert MetricsSettings().port is None
