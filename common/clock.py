"""Time helpers: every date Conveyor writes is an aware UTC datetime."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


def utcnow() -> datetime:
    return datetime.now(UTC)


@functools.lru_cache(maxsize=4096)
def iso_duration(delta: timedelta) -> str:
    """`PT1.5S`-style ISO-8601 duration, as the reference prints `state.duration` (cached: every snapshot of an
    execution prints the same durations again)."""
    total = delta.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{sign}PT"
    if hours:
        out += f"{int(hours)}H"
    if minutes:
        out += f"{int(minutes)}M"
    if seconds or out.endswith("PT"):
        out += f"{seconds:.6f}".rstrip("0").rstrip(".") + "S"
    return out


def human_duration(delta: timedelta) -> str:
    """`383 ms`, `1.27 s`, `12.3 s`, `2 min 5 s`, `1 h 2 min`: a duration for people (the CLI's tables); JSON
    and the API keep ISO-8601 (`iso_duration`). Each unit serves until its rounded value reaches the next."""
    seconds = delta.total_seconds()
    if seconds < 0:
        return "-" + human_duration(-delta)
    if round(seconds * 1000) < 1000:
        return f"{round(seconds * 1000)} ms"
    if round(seconds, 2) < 10:
        return f"{seconds:.2f} s"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


_ISO = re.compile(
    r"^(?P<sign>-)?P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: Any) -> Any:
    """ISO-8601 durations as the reference's `Duration.parse` reads them (case-insensitive, `PT0.25s`)."""
    if isinstance(value, str):
        match = _ISO.match(value.strip().upper())
        if not match or value.strip().upper() in ("P", "PT"):
            raise ValueError(f"expected an ISO-8601 duration such as PT30S or PT1H, got {value!r}")
        parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
        delta = timedelta(**parts)
        return -delta if match["sign"] else delta
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(iso_duration, return_type=str)]
