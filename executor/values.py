"""Rendering what flowables decide on: ForEach values, If conditions, Switch values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from conveyor.common.errors import RenderError
from conveyor.common.render import render, render_value, to_json

FALSY = frozenset({"false", "0", "-0", ""})


class FlowableError(ValueError):
    """A flowable cannot decide (bad values, impossible switch): its task run fails with this message."""


def truthy(rendered: str) -> bool:
    """An If condition is false only when it renders to `false`, `0`, `-0` or the empty string."""
    return rendered.strip().lower() not in FALSY


def render_condition(condition: str | bool | int, context: Mapping[str, Any], task_id: str) -> bool:
    if isinstance(condition, bool):
        return condition
    return truthy(render(str(condition), context, task_id))


def foreach_values(values: str | list[Any], context: Mapping[str, Any], task_id: str) -> list[str]:
    """The iteration values as strings (non-strings as compact JSON), de-duplicated, in order."""
    if isinstance(values, str):
        rendered = render(values, context, task_id)
        try:
            parsed = json.loads(rendered)
        except ValueError as exc:
            raise FlowableError(f"values must render to a JSON list, got {rendered!r}") from exc
        if not isinstance(parsed, list):
            raise FlowableError(f"values must render to a JSON list, got {rendered!r}")
        items: list[Any] = parsed
    else:
        items = []
        for item in values:
            if isinstance(item, bool | float):
                raise FlowableError(f"Unknown value element type: {type(item).__name__} ({item!r})")
            items.append(render_value(item, context, task_id) if isinstance(item, str | dict) else item)
    nulls = sum(1 for v in items if v is None)
    if nulls:
        shown = ", ".join(java_string(v) for v in items)
        raise FlowableError(f"Found '{nulls}' null values on Each, with values=[{shown}]")
    # De-duplicated through a dict (insertion-ordered): linear, where a list's `in` made N = 100,000 quadratic.
    return list(dict.fromkeys(item if isinstance(item, str) else to_json(item) for item in items))


def java_string(value: Any) -> str:
    """A value as the reference's messages print it (Java's `toString`): `{key=a, n=1}`, `[1, null]`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return str(value)


__all__ = ["FlowableError", "RenderError", "foreach_values", "render_condition", "truthy"]
