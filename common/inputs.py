"""Execution inputs checked and typed against the flow's declared inputs, before an execution exists."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from conveyor.common.errors import InputError
from conveyor.common.flow import Flow, Input, InputType


def parse_inputs(flow: Flow, raw: dict[str, Any]) -> dict[str, Any]:
    """Typed values for `raw` (strings from the CLI, or JSON values from the API).

    Raises `InputError` naming every input that is unknown, missing or of the wrong type."""
    declared = {i.id: i for i in flow.inputs}
    problems = [
        f"unknown input '{name}' (declared: {', '.join(declared) or 'none'})" for name in raw if name not in declared
    ]
    values: dict[str, Any] = {}
    for spec in flow.inputs:
        if spec.id in raw and raw[spec.id] is not None:
            try:
                values[spec.id] = coerce(spec, raw[spec.id])
            except (ValueError, TypeError) as exc:
                problems.append(f"input '{spec.id}': {exc}")
        elif spec.defaults is not None:
            values[spec.id] = spec.defaults
        elif spec.required:
            problems.append(f"input '{spec.id}' ({spec.type}) is required")
    if problems:
        raise InputError(f"invalid inputs for flow {flow.namespace}.{flow.id}: " + "; ".join(problems))
    return values


def coerce(spec: Input, value: Any) -> Any:
    """`value` as the declared type of `spec`; `ValueError` (or `TypeError`) says what was expected."""
    convert = _COERCIONS.get(spec.type)
    if convert is None:
        raise ValueError(f"unsupported input type {spec.type}")
    return convert(value)


def _string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def _float(value: Any) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"expected true or false, got {value!r}")
    return text == "true"


def _datetime(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected an ISO-8601 date-time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"expected a date-time with a time zone (e.g. Z), got {value!r}")
    return parsed.isoformat().replace("+00:00", "Z")


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ValueError(f"expected JSON, got {value!r} ({exc})") from None


_COERCIONS: dict[InputType, Callable[[Any], Any]] = {
    InputType.STRING: _string,
    InputType.INT: _int,
    InputType.FLOAT: _float,
    InputType.BOOLEAN: _boolean,
    InputType.DATETIME: _datetime,
    InputType.JSON: _json,
}
