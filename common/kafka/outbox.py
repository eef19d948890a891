"""Records held back until they can be sent: a batch decided while the previous transaction still commits.

A transactional producer takes no record between `commit_transaction` and the next `begin_transaction`. A
service that decides its next batch while the previous one commits (the executor) sends that batch's records
here, and hands them to the producer once its transaction has begun, in the order they were sent; from then
on, until the batch ends, records go straight to the producer (librdkafka copies them: no second copy held).
"""

from __future__ import annotations

from conveyor.common.kafka.producer import Headers, Sender

Record = tuple[str, str | bytes | None, bytes | None, Headers | None, int | None]


class Outbox:
    """Holds records until `open`; from then on until `close`, passes each straight to the producer."""

    def __init__(self) -> None:
        self._records: list[Record] = []
        self._target: Sender | None = None

    def send(
        self,
        topic: str,
        key: str | bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> None:
        if self._target is not None:
            self._target.send(topic, key, value, headers=headers, partition=partition)
        else:
            self._records.append((topic, key, value, headers, partition))

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        """Forget the held records, and hold again."""
        self._records = []
        self._target = None

    def open(self, producer: Sender) -> None:
        """Send every held record (in order) through `producer`, and the next ones straight to it."""
        records, self._records = self._records, []
        self._target = producer
        for topic, key, value, headers, partition in records:
            producer.send(topic, key, value, headers=headers, partition=partition)


__all__ = ["Outbox"]
