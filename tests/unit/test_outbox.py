"""The outbox: records held while the previous transaction commits, then handed over in order."""

from __future__ import annotations

from typing import Any

from conveyor.common.kafka.outbox import Outbox


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, topic: str, key: Any, value: Any, headers: Any = None, partition: Any = None) -> None:
        self.sent.append((topic, key, value, headers, partition))


def test_records_are_held_until_open_then_handed_over_in_order_and_later_ones_pass_straight() -> None:
    out, producer = Outbox(), Recorder()
    out.send("a", "k1", b"1")
    out.send("b", "k2", None, headers=[("h", b"v")], partition=3)
    assert producer.sent == [] and len(out) == 2
    out.open(producer)
    assert producer.sent == [("a", "k1", b"1", None, None), ("b", "k2", None, [("h", b"v")], 3)]
    assert len(out) == 0
    out.send("c", "k3", b"3")
    assert producer.sent[-1] == ("c", "k3", b"3", None, None) and len(out) == 0


def test_clear_forgets_held_records_and_holds_again() -> None:
    out, producer = Outbox(), Recorder()
    out.open(producer)
    out.clear()
    out.send("a", "k", b"x")
    assert producer.sent == [] and len(out) == 1
    out.clear()
    out.open(producer)
    assert producer.sent == []
