"""A pipelined commit stuck in librdkafka is given up on at its limit, counted from the commit's start: the
executor stops collecting the next batch for it (`Commit.overdue`), and waiting for it then raises at once."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from conveyor.common.kafka.producer import Commit, Producer, _Call


def _stuck() -> _Call:
    """A call no helper thread will ever run: a commit that never answers."""
    return _Call(lambda: None, ())


def test_a_commit_past_its_limit_is_overdue_and_one_within_it_is_not() -> None:
    producer = cast(Producer, None)  # `overdue` asks nothing of the producer
    assert Commit(producer, _stuck(), limit=0.0).overdue()
    assert not Commit(producer, _stuck(), limit=3600.0).overdue()
    ended = _stuck()
    ended.box.append((True, None))
    ended.done.set()
    assert not Commit(producer, ended, limit=0.0).overdue()  # ended, even if late: not overdue


@pytest.mark.timeout(30)
def test_its_outcome_is_waited_for_until_the_limit_after_its_start_not_a_whole_limit_again() -> None:
    call: Any = _stuck()
    call.started = time.monotonic() - 3600  # started an hour ago, limit 600 s: it is over
    with pytest.raises(TimeoutError):
        call.result(600.0)  # returns at once (the test's 30 s timeout would fail a wait of 600 s)
