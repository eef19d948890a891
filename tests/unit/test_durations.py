"""Durations for people (`conveyor run`, `taskruns`, `executions` tables): each unit up to where its rounded
value would reach the next one, so a table never shows `1000 ms`, `60.0 s` or `1 min 60 s`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor.cli.output import duration_text, indexed_duration
from conveyor.common.clock import human_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 ms"),
        (0.383186, "383 ms"),
        (0.9994, "999 ms"),
        (0.9996, "1.00 s"),
        (1.27, "1.27 s"),
        (9.994, "9.99 s"),
        (9.996, "10.0 s"),
        (12.34, "12.3 s"),
        (59.94, "59.9 s"),
        (59.96, "1 min 0 s"),
        (125, "2 min 5 s"),
        (3599.4, "59 min 59 s"),
        (3599.6, "1 h 0 min"),
        (3725, "1 h 2 min"),
        (25 * 3600 + 61, "25 h 1 min"),
        (-0.5, "-500 ms"),
    ],
)
def test_human_duration_at_the_unit_boundaries(seconds: float, text: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == text


def test_the_cli_tables_print_indexed_durations_for_people() -> None:
    assert indexed_duration({"durationMs": 383}) == "383 ms"
    assert indexed_duration({"durationMs": 1270, "duration": "PT1.27S"}) == "1.27 s"
    assert indexed_duration({"duration": "PT2M5S"}) == "2 min 5 s"  # a document without durationMs
    assert indexed_duration({"duration": "soon"}) == "soon"  # not a duration: shown as it is
    assert indexed_duration({}) == ""
    assert duration_text(None) == "" and duration_text(timedelta(minutes=62)) == "1 h 2 min"
