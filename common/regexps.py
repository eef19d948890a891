"""Regular expressions of flows (`replace(…, regexp=true)`, jq's `test`, `sub`, `gsub`, `splits`), bounded in
time: the `regex` package (no catastrophic backtracking on the usual traps, and a timeout where there is one)
instead of `re`, which cannot be interrupted and would hold the executor. The limit is `CONVEYOR_JQ_TIMEOUT`."""

from __future__ import annotations

from functools import cache
from typing import Any

import regex

from conveyor.common.settings import JqSettings


class RegexpError(ValueError):
    """A pattern that does not compile, or a match past the time limit."""


@cache
def _timeout() -> float:
    return JqSettings().timeout


def _run(kind: str, pattern: str, call: Any) -> Any:
    try:
        return call(_timeout())
    except regex.error as exc:
        raise RegexpError(f"{kind}: invalid regular expression {pattern!r}: {exc}") from exc
    except TimeoutError as exc:
        raise RegexpError(
            f"{kind}: {pattern!r} ran longer than {_timeout():g} s (limit CONVEYOR_JQ_TIMEOUT exceeded)"
        ) from exc


def sub(kind: str, pattern: str, replacement: str, text: str, count: int = 0) -> str:
    return str(_run(kind, pattern, lambda t: regex.sub(pattern, replacement, text, count=count, timeout=t)))


def search(kind: str, pattern: str, text: str) -> bool:
    return _run(kind, pattern, lambda t: regex.search(pattern, text, timeout=t)) is not None


def split(kind: str, pattern: str, text: str) -> list[str]:
    return list(_run(kind, pattern, lambda t: regex.split(pattern, text, timeout=t)))
