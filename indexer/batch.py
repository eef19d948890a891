"""The messages polled since the last bulk: decoded as they arrive, reduced to the newest document of
each entity when the batch is written, and closed by a size or an age bound."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.common.events import DELETE_HEADER
from conveyor.common.kafka.message import Message
from conveyor.indexer.documents import Action, decode
from conveyor.indexer.errors import DocumentError


@dataclass(frozen=True)
class Pending:
    """A document to write and the message it came from (for the dead-letter topic if it is rejected)."""

    action: Action
    message: Message


@dataclass(frozen=True)
class Undecodable:
    message: Message
    reason: str


class Batch:
    def __init__(self, prefix: str, kinds: dict[str, str]) -> None:
        """`kinds` maps each consumed topic's full name to the kind of document it holds."""
        self._prefix = prefix
        self._kinds = kinds
        self._entries: list[tuple[Message, Action | DocumentError | None]] = []
        self.opened_at: float | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def messages(self) -> list[Message]:
        return [msg for msg, _ in self._entries]

    def add(self, msg: Message, now: float) -> None:
        try:
            outcome: Action | DocumentError | None = decode(
                self._prefix,
                self._kinds.get(msg.topic, ""),
                msg.value,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                timestamp_ms=msg.timestamp_ms,
            )
        except DocumentError as exc:
            outcome = exc
        if self.opened_at is None:
            self.opened_at = now
        self._entries.append((msg, outcome))

    def due(self, now: float, max_size: int, max_age: float) -> bool:
        """Full, or its oldest message has waited `max_age` seconds."""
        if not self._entries:
            return False
        return len(self._entries) >= max_size or (self.opened_at is not None and now - self.opened_at >= max_age)

    def pending(self) -> list[Pending]:
        """The newest version of each entity (highest revision; on a tie, the later message), in the
        order the entities first appeared. Older versions in the batch are superseded, not written."""
        latest: dict[tuple[str, str], Pending] = {}
        for msg, outcome in self._entries:
            if not isinstance(outcome, Action):
                continue
            seen = latest.get(outcome.key)
            if seen is None or (outcome.version or 0) >= (seen.action.version or 0):
                # Re-inserting after a pop would move the key to the end; assignment keeps its place.
                latest[outcome.key] = Pending(outcome, msg)
        return list(latest.values())

    def deletions(self, executions_topic: str) -> dict[tuple[bool, bool], list[str]]:
        """The executions a deletion's tombstone (header `conveyor.delete`) names, by what else goes with their
        documents: (logs, metrics) -> execution ids. Written after the batch's documents, so that a document
        of the batch does not outlive its execution's deletion."""
        found: dict[tuple[bool, bool], list[str]] = {}
        for msg, _ in self._entries:
            if msg.topic != executions_topic or msg.value is not None:
                continue
            marks = [value for name, value in msg.headers if name == DELETE_HEADER]
            if marks:
                what = set((marks[-1] or b"").decode().split(","))
                found.setdefault(("logs" in what, "metrics" in what), []).append(msg.key_str)
        return found

    def undecodable(self) -> list[Undecodable]:
        return [Undecodable(msg, str(out)) for msg, out in self._entries if isinstance(out, DocumentError)]

    def drop_partitions(self, partitions: set[tuple[str, int]]) -> int:
        """Forget the messages of revoked partitions: their new owner reads them again from the last
        committed offset. Returns how many were dropped."""
        before = len(self._entries)
        self._entries = [(msg, out) for msg, out in self._entries if msg.topic_partition not in partitions]
        if not self._entries:
            self.opened_at = None
        return before - len(self._entries)

    def clear(self) -> None:
        self._entries = []
        self.opened_at = None
