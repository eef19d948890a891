"""Errors of the Kafka plumbing: every public call of `conveyor.common.kafka` raises these, never
confluent's `KafkaException` (`kafka_errors` and `from_exception` turn one into ours).

KafkaError (ConveyorError)
├── RetryableKafkaError   the broker or network hiccuped; the same call may succeed later
└── FatalKafkaError       configuration, authentication or a fenced producer: stop the service
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import KafkaError as _ConfluentError
from confluent_kafka import KafkaException

from conveyor.common.errors import ConveyorError


class KafkaError(ConveyorError):
    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class RetryableKafkaError(KafkaError):
    pass


class FatalKafkaError(KafkaError):
    pass


def from_kafka(error: Any, context: str) -> KafkaError:
    """Our exception for a `confluent_kafka.KafkaError` (quixstreams' raise_for_msg_error, in spirit)."""
    message = f"{context}: {error.str()}"
    code = error.name()
    if error.fatal() or (not error.retriable() and code in _FATAL):
        return FatalKafkaError(message, code)
    return RetryableKafkaError(message, code)


def from_exception(exc: KafkaException, context: str) -> KafkaError:
    """Our exception for a `confluent_kafka.KafkaException` (which carries a `KafkaError`, or a bare
    message when raised from Python)."""
    error = exc.args[0] if exc.args else None
    if isinstance(error, _ConfluentError):
        return from_kafka(error, context)
    return RetryableKafkaError(f"{context}: {exc}")


@contextmanager
def kafka_errors(context: str) -> Iterator[None]:
    """Confluent's exceptions raised inside the block come out as ours (not for per-message paths: a
    plain try/except costs nothing there)."""
    try:
        yield
    except KafkaException as exc:
        raise from_exception(exc, context) from exc


_FATAL = {
    "SASL_AUTHENTICATION_FAILED",
    "_AUTHENTICATION",
    "TOPIC_AUTHORIZATION_FAILED",
    "GROUP_AUTHORIZATION_FAILED",
    "_FENCED",
    "PRODUCER_FENCED",
    "INVALID_PRODUCER_EPOCH",
    "_UNKNOWN_TOPIC",
    "UNKNOWN_TOPIC_OR_PART",
}
