"""The rules an input's declaration puts on its typed value: `validator`, `min`/`max`, `after`/`before`,
`values` (with `allowCustomValue`). Each broken rule is a `ValueError` worded as the reference words it."""

from __future__ import annotations

from typing import Any

from conveyor.common import regexps
from conveyor.common.input_spec import Input
from conveyor.common.input_types import ORDERS, InputType


def check(spec: Input, value: Any) -> None:
    """Raises `ValueError` naming the first rule of `spec` that the typed `value` breaks."""
    if spec.validator is not None and not regexps.java_fullmatch("validator", spec.validator, str(value)):
        raise ValueError(f"it must match the pattern `{spec.validator}`")
    _check_range(spec, value)
    _check_values(spec, value)


def _check_range(spec: Input, value: Any) -> None:
    order = ORDERS.get(spec.type)
    if order is None:
        return
    low, high = (spec.min, spec.max) if spec.type in _MIN_MAX else (spec.after, spec.before)
    below, above = ("more", "less") if spec.type in _MIN_MAX else ("after", "before")
    if low is not None and order(value) < order(low):
        raise ValueError(f"it must be {below}{' than' if below == 'more' else ''} `{low}`")
    if high is not None and order(value) > order(high):
        raise ValueError(f"it must be {above}{' than' if above == 'less' else ''} `{high}`")


def _check_values(spec: Input, value: Any) -> None:
    allowed = spec.values if spec.values is not None else spec.options
    if allowed is None or spec.allow_custom_value:
        return
    for item in value if spec.type == InputType.MULTISELECT else [value]:
        if str(item) not in allowed:
            raise ValueError(f"it must match the values `[{', '.join(allowed)}]`")


_MIN_MAX = frozenset({InputType.INT, InputType.FLOAT, InputType.DURATION})
