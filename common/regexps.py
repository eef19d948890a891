"""Regular expressions of flows (`replace(…, regexp=true)`, jq's `test`, `sub`, `gsub`, `splits`, an input's
`validator`), bounded in time: the `regex` package (no catastrophic backtracking on the usual traps, and a
timeout where there is one) instead of `re`, which cannot be interrupted and would hold the executor. The limit
is `CONVEYOR_JQ_TIMEOUT`. The `java_…` functions take the reference's Java patterns (`common/java_regex.py`);
jq's keep jq's own (Oniguruma) syntax."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import regex

from conveyor.common import java_regex
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


def _java(kind: str, pattern: str) -> Any:
    """A Java pattern, translated (`common/java_regex.py`) and compiled; `RegexpError` names what is wrong."""
    try:
        return _compiled(java_regex.translate(pattern))
    except java_regex.JavaRegexError as exc:
        raise RegexpError(f"{kind}: invalid regular expression {pattern!r}: {exc}") from exc
    except regex.error as exc:
        raise RegexpError(f"{kind}: invalid regular expression {pattern!r}: {exc}") from exc


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)


def java_sub(kind: str, pattern: str, replacement: str, text: str) -> str:
    """Java's `text.replaceAll(pattern, replacement)`, in the time limit."""
    compiled = _java(kind, pattern)
    try:
        template = java_regex.replacement(replacement, compiled.groups, dict(compiled.groupindex))
    except java_regex.JavaRegexError as exc:
        raise RegexpError(f"{kind}: replacement {replacement!r}: {exc}") from exc
    return str(_run(kind, pattern, lambda t: compiled.sub(template, text, timeout=t)))


def java_fullmatch(kind: str, pattern: str, text: str) -> bool:
    """Java's `Pattern.matches(pattern, text)`, in the time limit."""
    compiled = _java(kind, pattern)
    return _run(kind, pattern, lambda t: compiled.fullmatch(text, timeout=t)) is not None


def java_check(kind: str, pattern: str) -> None:
    """Raises `RegexpError` when `pattern` is not a Java pattern this translation reads."""
    _java(kind, pattern)


def java_split(kind: str, pattern: str, text: str, limit: int = 0) -> list[str]:
    """Java's `text.split(pattern, limit)`: no groups in the parts, no leading empty part for a zero-width match
    at the start, at most `limit` parts when it is positive, trailing empty parts dropped when it is 0."""
    compiled = _java(kind, pattern)

    def run(timeout: float) -> list[str]:
        parts: list[str] = []
        start = 0
        for m in compiled.finditer(text, timeout=timeout):
            if limit > 0 and len(parts) == limit - 1:
                break
            if m.end() == 0:
                continue
            parts.append(text[start : m.start()])
            start = m.end()
        if not parts:
            return [text]
        parts.append(text[start:])
        while limit == 0 and parts and parts[-1] == "":
            parts.pop()
        return parts

    return list(_run(kind, pattern, run))
