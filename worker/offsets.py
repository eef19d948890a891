"""Which worker-jobs offsets may be committed: per partition, the contiguous low-water mark of finished jobs.

Jobs finish out of order (a Sleep of a minute next to a Return), but a committed offset says "everything
before this is done". So each partition keeps its received offsets in order; finishing one moves the mark
past every finished offset at the front, and only that mark is stored. A job still running holds back the
ones after it: after a crash they run again (at-least-once), they are never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

Partition = tuple[str, int]
T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    ref: T
    finished: bool = False


class OffsetTracker(Generic[T]):
    """Received and finished offsets per partition; `ref` is what the caller stores (e.g. the message)."""

    def __init__(self) -> None:
        # partition -> offset -> entry, in offset order
        self._pending: dict[Partition, dict[int, _Entry[T]]] = {}

    def start(self, partition: Partition, offset: int, ref: T) -> None:
        pending = self._pending.setdefault(partition, {})
        if offset in pending:
            return
        backwards = bool(pending) and offset < next(reversed(pending))
        pending[offset] = _Entry(ref)
        if backwards:  # a rewind redelivered an older offset: keep the order the mark relies on
            self._pending[partition] = dict(sorted(pending.items()))

    def finish(self, partition: Partition, offset: int) -> T | None:
        """Mark `offset` finished; the ref of the new low-water mark's last offset when the mark moved."""
        pending = self._pending.get(partition)
        if pending is None or offset not in pending:
            return None  # a partition revoked (and forgotten) while its job ran
        pending[offset].finished = True
        moved: T | None = None
        while pending:
            first = next(iter(pending))
            if not pending[first].finished:
                break
            moved = pending.pop(first).ref
        return moved

    def forget(self, partitions: list[Partition]) -> None:
        for partition in partitions:
            self._pending.pop(partition, None)

    def pending(self, partition: Partition) -> int:
        """How many received offsets of `partition` are not yet behind the mark."""
        return len(self._pending.get(partition, {}))
