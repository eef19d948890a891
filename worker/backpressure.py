"""Backpressure on worker-jobs: pause every assigned partition while the worker has no room, resume when it has.

The worker holds at most `concurrency` received jobs beyond those running (see `Worker._apply_backpressure`);
a job that is not fetched stays in Kafka for another worker of the group.
"""

from __future__ import annotations

Partition = tuple[str, int]


class Backpressure:
    def __init__(self) -> None:
        self.paused: set[Partition] = set()

    def update(self, full: bool, assignment: set[Partition]) -> tuple[list[Partition], list[Partition]]:
        """(partitions to pause, partitions to resume) for the pool's state and the current assignment."""
        self.paused &= assignment  # revoked partitions are neither paused nor resumable any more
        if full:
            pause = sorted(assignment - self.paused)
            self.paused |= set(pause)
            return pause, []
        resume = sorted(self.paused)
        self.paused.clear()
        return [], resume
