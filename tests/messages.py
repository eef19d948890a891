"""Reading consumed Kafka messages in tests."""

from __future__ import annotations

from confluent_kafka import Message


def headers_of(msg: Message) -> dict[str, bytes]:
    """A consumed message's headers by name (a consumer gives a list of pairs; the type allows a dict too)."""
    raw = msg.headers() or []
    pairs = list(raw.items()) if isinstance(raw, dict) else raw
    return {name: value.encode() if isinstance(value, str) else (value or b"") for name, value in pairs}
