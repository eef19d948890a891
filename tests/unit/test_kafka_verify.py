"""Reading the topics' cleanup policies at a service's start: a cluster that cannot answer yet is asked again;
what no retry cures, or a cluster that never answers, fails the start naming the topic."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from conveyor.common.kafka import verify
from conveyor.common.kafka.errors import FatalKafkaError


class _Entry:
    def __init__(self, value: str) -> None:
        self.value = value


class _Admin:
    """Answers `describe_configs` with `errors` first (one a call), then with the topics' policies."""

    def __init__(self, *errors: KafkaError, forever: bool = False) -> None:
        self.errors = list(errors)
        self.forever = forever  # the last error again and again
        self.calls = 0

    def describe_configs(self, resources: list[Any], request_timeout: float) -> dict[Any, Future[Any]]:
        self.calls += 1
        futures: dict[Any, Future[Any]] = {}
        for resource in resources:
            future: Future[Any] = Future()
            if self.errors:
                future.set_exception(KafkaException(self.errors[0]))
            else:
                future.set_result({"cleanup.policy": _Entry("compact")})
            futures[resource] = future
        if self.errors and not (self.forever and len(self.errors) == 1):
            self.errors.pop(0)
        return futures


def test_a_controller_not_elected_yet_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)
    admin = _Admin(KafkaError(KafkaError._TIMED_OUT, "Timed out waiting for controller"))
    assert verify._cleanup_policies(admin, ["p.executions"]) == {"p.executions": "compact"}  # type: ignore[arg-type]
    assert admin.calls == 2


def test_an_error_no_retry_cures_fails_at_once_naming_the_topic() -> None:
    admin = _Admin(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "denied"))
    with pytest.raises(FatalKafkaError, match="p-executions"):
        verify._cleanup_policies(admin, ["p-executions"])  # type: ignore[arg-type]
    assert admin.calls == 1


def test_a_cluster_that_never_answers_fails_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)
    timed_out = KafkaError(KafkaError._TIMED_OUT, "Timed out waiting for controller")
    admin = _Admin(timed_out, forever=True)
    with pytest.raises(FatalKafkaError, match="Timed out waiting for controller"):
        verify._cleanup_policies(admin, ["p.executions"], timeout=0.05)  # type: ignore[arg-type]
    assert admin.calls >= 2
