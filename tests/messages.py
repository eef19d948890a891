"""Reading consumed Kafka messages in tests."""

from __future__ import annotations

from conveyor.common.kafka.message import Message


def headers_of(msg: Message) -> dict[str, bytes]:
    """A consumed message's headers by name (a null header value, which Conveyor never writes, reads as b"")."""
    return {name: value or b"" for name, value in msg.headers}
