"""Printing for the CLI: rich tables for people, JSON for programs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from conveyor.common.clock import human_duration, parse_duration

STATE_STYLE = {
    "SUCCESS": "green",
    "WARNING": "yellow",
    "FAILED": "red",
    "KILLED": "magenta",
    "KILLING": "magenta",
    "RUNNING": "cyan",
    "CREATED": "white",
    "RETRYING": "yellow",
    "RETRIED": "yellow",
    "RESTARTED": "blue",
}

# Piped output (CI logs, `| less`) gets wide tables rather than rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def state_text(state: str) -> str:
    style = STATE_STYLE.get(state, "white")
    return f"[{style}]{state}[/{style}]"


def short(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def duration_text(elapsed: timedelta | None) -> str:
    """A duration for the tables (`383 ms`, `2 min 5 s`), empty when there is none."""
    return "" if elapsed is None else human_duration(elapsed)


def indexed_duration(state: dict[str, Any]) -> str:
    """An indexed document's `state` duration for the tables: its `durationMs`, else its ISO `duration`."""
    ms = state.get("durationMs")
    if ms is not None:
        return human_duration(timedelta(milliseconds=ms))
    iso = state.get("duration") or ""
    try:
        return duration_text(parse_duration(iso)) if iso else ""
    except ValueError:
        return str(iso)


def table(title: str, columns: list[str], rows: Iterable[list[str]]) -> Table:
    out = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*row)
    return out
