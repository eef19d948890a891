"""The committed offset is the contiguous low-water mark of finished jobs, per partition."""

from __future__ import annotations

from conveyor.worker.backpressure import Backpressure
from conveyor.worker.offsets import OffsetTracker

P0 = ("jobs", 0)
P1 = ("jobs", 1)


def tracker(*offsets: int, partition: tuple[str, int] = P0) -> OffsetTracker[str]:
    t: OffsetTracker[str] = OffsetTracker()
    for offset in offsets:
        t.start(partition, offset, f"m{offset}")
    return t


def test_finishing_in_order_moves_the_mark_each_time() -> None:
    t = tracker(0, 1, 2)
    assert [t.finish(P0, 0), t.finish(P0, 1), t.finish(P0, 2)] == ["m0", "m1", "m2"]
    assert t.pending(P0) == 0


def test_a_running_job_holds_back_the_jobs_after_it() -> None:
    t = tracker(0, 1, 2, 3)
    assert t.finish(P0, 1) is None
    assert t.finish(P0, 3) is None
    assert t.finish(P0, 0) == "m1"  # 0 and 1 are done, 2 still runs
    assert t.pending(P0) == 2
    assert t.finish(P0, 2) == "m3"
    assert t.pending(P0) == 0


def test_gaps_in_offsets_do_not_stop_the_mark() -> None:
    t = tracker(10, 13, 20)  # offsets of transaction markers or compacted messages are never delivered
    t.finish(P0, 20)
    t.finish(P0, 13)
    assert t.finish(P0, 10) == "m20"


def test_partitions_are_independent() -> None:
    t = tracker(0, 1)
    t.start(P1, 5, "p1m5")
    assert t.finish(P1, 5) == "p1m5"
    assert t.finish(P0, 1) is None
    assert t.finish(P0, 0) == "m1"


def test_a_forgotten_partition_ignores_late_finishes() -> None:
    t = tracker(0, 1)
    t.forget([P0])
    assert t.finish(P0, 0) is None
    assert t.pending(P0) == 0


def test_a_redelivered_offset_is_tracked_once_and_rewinds_keep_order() -> None:
    t = tracker(5, 6)
    t.start(P0, 5, "again")
    t.start(P0, 3, "m3")  # a rewind: an older offset arrives after newer ones
    assert t.finish(P0, 5) is None
    assert t.finish(P0, 6) is None
    assert t.finish(P0, 3) == "m6"


def test_backpressure_pauses_every_assigned_partition_when_full_and_resumes_them_after() -> None:
    bp = Backpressure()
    assert bp.update(False, {P0, P1}) == ([], [])
    assert bp.update(True, {P0, P1}) == ([P0, P1], [])
    assert bp.update(True, {P0, P1}) == ([], [])  # already paused
    assert bp.update(True, {P0, P1, ("jobs", 2)}) == ([("jobs", 2)], [])  # newly assigned while full
    assert bp.update(False, {P0, ("jobs", 2)}) == ([], [P0, ("jobs", 2)])  # P1 was revoked meanwhile
    assert bp.update(False, {P0}) == ([], [])
