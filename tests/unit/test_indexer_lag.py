"""Consumer lag read from librdkafka's statistics JSON."""

from __future__ import annotations

import json

from conveyor.indexer.lag import Lag, describe, parse


def partition(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "desired": True,
        "hi_offset": -1,
        "ls_offset": -1,
        "lo_offset": 0,
        "committed_offset": -1001,
    }
    base.update(kw)
    return base


STATS = {
    "topics": {
        "p.taskruns": {
            "partitions": {
                "0": partition(hi_offset=120, ls_offset=100, committed_offset=90),
                "1": partition(hi_offset=50, ls_offset=50, lo_offset=5),  # nothing committed yet
                "2": partition(desired=False, hi_offset=10, ls_offset=10),  # another member's
                "-1": partition(hi_offset=10, ls_offset=10),  # librdkafka's internal partition
            }
        },
        "p.logs": {"partitions": {"0": partition(hi_offset=7, committed_offset=7)}},
    }
}


def test_lag_is_end_minus_committed_for_the_partitions_we_hold() -> None:
    assert parse(STATS) == {("p.taskruns", 0): 10, ("p.taskruns", 1): 45, ("p.logs", 0): 0}


def test_update_keeps_the_last_readable_report() -> None:
    lag = Lag()
    lag.update(json.dumps(STATS))
    lag.update("not json")
    assert lag.total() == 55
    assert describe(lag.snapshot()) == "p.taskruns[0]=10 p.taskruns[1]=45"
    assert describe({}) == "none"
