"""The messages polled since the last bulk, reduced to the newest document of each entity when the batch is
written, and closed by a size or an age bound.

An execution header or a task-run change is read as JSON when it arrives (its entity and revision), and
validated into a document only if it is its entity's newest version in the batch (or all the newer ones were
undecodable): a one-task execution's RUNNING and SUCCESS versions often share a bulk, and validating the
superseded one was about a fifth of the indexer's time under load. Any other message, and one whose entity or
revision cannot be read, is decoded when it arrives; an undecodable one goes to the dead-letter topic
(`undecodable`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from conveyor.common.events import DELETE_HEADER
from conveyor.common.kafka.message import Message
from conveyor.indexer.documents import Action, decode
from conveyor.indexer.errors import DocumentError
from conveyor.indexer.templates import EXECUTIONS, TASKRUNS


@dataclass(frozen=True)
class Pending:
    """A document to write and the message it came from (for the dead-letter topic if it is rejected)."""

    action: Action
    message: Message


@dataclass(frozen=True)
class Deferred:
    """A versioned message read as JSON, to be decoded only if its entity has no newer version in the batch."""

    key: tuple[str, str]
    version: int
    raw: dict[str, Any]


Outcome = Action | DocumentError | Deferred | None


@dataclass(frozen=True)
class Undecodable:
    message: Message
    reason: str


class Batch:
    def __init__(self, prefix: str, kinds: dict[str, str]) -> None:
        """`kinds` maps each consumed topic's full name to the kind of document it holds."""
        self._prefix = prefix
        self._kinds = kinds
        self._entries: list[tuple[Message, Outcome]] = []
        self.opened_at: float | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def messages(self) -> list[Message]:
        return [msg for msg, _ in self._entries]

    def add(self, msg: Message, now: float) -> None:
        kind = self._kinds.get(msg.topic, "")
        outcome = _deferred(kind, msg.value) or self._decode(msg, kind, None)
        if self.opened_at is None:
            self.opened_at = now
        self._entries.append((msg, outcome))

    def _decode(self, msg: Message, kind: str, raw: dict[str, Any] | None) -> Action | DocumentError | None:
        try:
            return decode(
                self._prefix,
                kind,
                msg.value,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                timestamp_ms=msg.timestamp_ms,
                raw=raw,
            )
        except DocumentError as exc:
            return exc

    def due(self, now: float, max_size: int, max_age: float) -> bool:
        """Full, or its oldest message has waited `max_age` seconds."""
        if not self._entries:
            return False
        return len(self._entries) >= max_size or (self.opened_at is not None and now - self.opened_at >= max_age)

    def pending(self) -> list[Pending]:
        """The newest decodable version of each entity (highest revision; on a tie, the later message), in
        the order the entities first appeared. Older versions in the batch are superseded, not written (nor
        validated)."""
        versions: dict[tuple[str, str], list[tuple[int, int]]] = {}  # entity -> its (version, entry index)
        for i, (_, outcome) in enumerate(self._entries):
            if isinstance(outcome, (Action, Deferred)):
                versions.setdefault(outcome.key, []).append((outcome.version or 0, i))
        out = []
        for candidates in versions.values():
            for _, i in sorted(candidates, reverse=True):  # the newest first; on a tie, the later message
                msg, outcome = self._entries[i]
                if isinstance(outcome, Deferred):  # decoded now; an error is kept for `undecodable`
                    outcome = self._decode(msg, self._kinds.get(msg.topic, ""), outcome.raw)
                    self._entries[i] = (msg, outcome)
                if isinstance(outcome, Action):
                    out.append(Pending(outcome, msg))
                    break
        return out

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


def _deferred(kind: str, value: bytes | None) -> Deferred | None:
    """An execution header or task-run change whose entity and revision can be read, else None."""
    if value is None or kind not in (EXECUTIONS, TASKRUNS):
        return None
    try:
        raw = orjson.loads(value)
        entity = raw["id"] if kind == EXECUTIONS else raw["taskRun"]["id"]
        version = raw["revision"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(entity, str) or not isinstance(version, int):
        return None
    return Deferred((kind, entity), version, raw)
