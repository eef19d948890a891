"""The dead-letter topic: a message no service could decode or handle, with the reason, for operators."""

from __future__ import annotations

import logging

from conveyor.common.kafka.message import Message
from conveyor.common.kafka.producer import Sender
from conveyor.common.kafka.topics import Topics

log = logging.getLogger(__name__)


def dead_letter(producer: Sender, topics: Topics, msg: Message, reason: str, service: str) -> None:
    """Send `msg` to the dead-letter topic under its original key, with headers naming where it came from."""
    log.error(
        "dead-lettered a message from %s[%s]@%s: %s",
        msg.topic,
        msg.partition,
        msg.offset,
        reason,
        extra={
            "topic": msg.topic,
            "partition": msg.partition,
            "offset": msg.offset,
            "service": service,
        },
    )
    headers = [
        ("conveyor.reason", reason[:4000]),
        ("conveyor.topic", msg.topic),
        ("conveyor.partition", str(msg.partition)),
        ("conveyor.offset", str(msg.offset)),
        ("conveyor.service", service),
    ]
    producer.send(topics.dead_letter, msg.key, msg.value, headers=headers)
