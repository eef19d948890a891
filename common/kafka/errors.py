"""Errors of the Kafka plumbing.

KafkaError (ConveyorError)
├── RetryableKafkaError   the broker or network hiccuped; the same call may succeed later
└── FatalKafkaError       configuration, authentication or a fenced producer: stop the service
"""

from __future__ import annotations

from typing import Any

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
