"""The reference's functions that need no context: `range`, `min`, `max`, `fromJson`/`json`, `yaml`, `uuid`,
`id`, `randomInt`.

`range(start, end, step=1)` is inclusive like Pebble's (`range(1, 3)` is `[1, 2, 3]`) and a list, so it
prints as JSON; `range(n)` (one argument, not the reference's) keeps Jinja2's meaning, `0 … n-1`. A range
longer than `MAX_RANGE` is refused, as Jinja2's sandbox refuses its own.
"""

from __future__ import annotations

import json
import random
import secrets
import string
import uuid as _uuid
from typing import Any

import yaml as _yaml

from conveyor.common.expr_strings import FilterError

MAX_RANGE = 100_000


def _sized(values: range) -> list[int]:
    if len(values) > MAX_RANGE:
        raise FilterError(f"range: {len(values)} values is more than the {MAX_RANGE} allowed")
    return list(values)


def inclusive_range(start: Any, end: Any = None, step: Any = 1) -> list[int]:
    if end is None:
        return _sized(range(int(start)))
    first, last, by = int(start), int(end), int(step)
    if by == 0:
        raise FilterError("range: the step must not be 0")
    return _sized(range(first, last + (1 if by > 0 else -1), by))


def _flat(args: tuple[Any, ...]) -> list[Any]:
    if len(args) == 1 and isinstance(args[0], list | tuple):
        return list(args[0])
    return list(args)


def minimum(*args: Any) -> Any:
    items = _flat(args)
    if not items:
        raise FilterError("min: needs at least one value")
    return min(items)


def maximum(*args: Any) -> Any:
    items = _flat(args)
    if not items:
        raise FilterError("max: needs at least one value")
    return max(items)


def from_json(value: Any) -> Any:
    """`fromJson(s)` (and `json(s)`): the value a JSON string holds; null stays null."""
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise FilterError(f"fromJson: not JSON: {exc}") from exc


def from_yaml(value: Any) -> Any:
    """`yaml(s)`: the value a YAML string holds (dates and times stay strings, as in the reference)."""
    if value is None or not isinstance(value, str):
        return value
    try:
        return _yaml.load(value, Loader=_StringDates)
    except _yaml.YAMLError as exc:
        raise FilterError(f"yaml: not YAML: {exc}") from exc


class _StringDates(_yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: `1991-08-20` stays the string it is in the reference."""


_StringDates.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def uuid() -> str:
    return str(_uuid.uuid4())


_ID_ALPHABET = string.ascii_letters + string.digits


def short_id() -> str:
    """`id()`: a new 22-character id, like the reference's execution ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


def random_int(lower: Any, upper: Any) -> int:
    """`randomInt(lower, upper)`: an integer in [lower, upper) (lower itself when they are equal), as the
    reference: both must be integers, upper not less than lower."""
    for name, given in (("lower", lower), ("upper", upper)):
        if not isinstance(given, int) or isinstance(given, bool):
            raise FilterError(f"The 'GenerateRandomNumber' function expects an argument {name} with type Integer.")
    if upper < lower:
        raise FilterError("In 'GenerateRandomNumber' upper is less than lower")
    return lower if upper == lower else random.randrange(lower, upper)
