"""The JSON values of the `jq` filter: jq's types and order, its arithmetic, and the builtins that take no
program as argument (`length`, `keys`, `@csv`…, and `has`, `join`, `split`… of one value)."""

from __future__ import annotations

import base64
import json
import math
import operator
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote


class JqError(ValueError):
    """The program does not parse, or fails on its input (e.g. `.a` of a number)."""


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _index(target: Any, key: Any) -> Any:
    if target is None:
        return None
    if isinstance(target, dict) and isinstance(key, str):
        return target.get(key)
    if isinstance(target, list) and isinstance(key, int | float) and not isinstance(key, bool):
        i = int(key)
        return target[i] if -len(target) <= i < len(target) else None
    raise JqError(f"jq: cannot index {_type(target)} with {json.dumps(key)}")


def _slice(target: Any, start: Any, end: Any) -> Any:
    if target is None:
        return None
    if not isinstance(target, list | str):
        raise JqError(f"jq: cannot slice {_type(target)}")
    return target[None if start is None else int(start) : None if end is None else int(end)]


def _values(target: Any) -> Iterator[Any]:
    if isinstance(target, list):
        yield from target
    elif isinstance(target, dict):
        yield from target.values()
    else:
        raise JqError(f"jq: cannot iterate over {_type(target)}")


def _recurse(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, list | dict):
        for child in _values(value):
            yield from _recurse(child)


def _binary(op: str, left: Any, right: Any) -> Any:
    if op in ("==", "!="):
        return (left == right) == (op == "==")
    if op in _COMPARISONS:
        return _COMPARISONS[op](_order_key(left), _order_key(right))
    arithmetic = _ARITHMETIC.get(op)
    if arithmetic is None:
        raise JqError(f"jq: unknown operator {op}")
    try:
        return arithmetic(left, right)
    except (TypeError, ZeroDivisionError) as exc:
        raise JqError(f"jq: {_type(left)} {op} {_type(right)} cannot be computed") from exc


def _plus(left: Any, right: Any) -> Any:
    """null is the identity; objects merge (the right one wins)."""
    if left is None:
        return right
    if right is None:
        return left
    if isinstance(left, dict) and isinstance(right, dict):
        return {**left, **right}
    return left + right


def _minus(left: Any, right: Any) -> Any:
    if isinstance(left, list) and isinstance(right, list):
        return [x for x in left if x not in right]
    return left - right


def _divide(left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        return left.split(right)
    result = left / right
    return int(result) if isinstance(result, float) and result.is_integer() else result


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": _plus,
    "-": _minus,
    "*": operator.mul,
    "/": _divide,
    "%": lambda left, right: int(left) % int(right),
}


_ORDER = {"null": 0, "boolean": 1, "number": 2, "string": 3, "array": 4, "object": 5}


def _order_key(value: Any) -> Any:
    kind = _type(value)
    if kind == "array":
        return (_ORDER[kind], [_order_key(v) for v in value])
    if kind == "object":
        return (_ORDER[kind], sorted((k, _order_key(v)) for k, v in value.items()))
    return (_ORDER[kind], value if value is not None else 0)


def _length(v: Any) -> Any:
    if v is None:
        return 0
    if isinstance(v, bool):
        raise JqError("jq: boolean has no length")
    if isinstance(v, int | float):
        return abs(v)
    return len(v)


def _keys(v: Any) -> Any:
    if isinstance(v, dict):
        return sorted(v)
    if isinstance(v, list):
        return list(range(len(v)))
    raise JqError(f"jq: {_type(v)} has no keys")


def _tonumber(v: Any) -> Any:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v
    try:
        number = float(v)
    except (TypeError, ValueError) as exc:
        raise JqError(f"jq: cannot parse {v!r} as a number") from exc
    return int(number) if number.is_integer() and "." not in str(v) else number


def _unique(ordered: list[Any]) -> list[Any]:
    return [x for i, x in enumerate(ordered) if i == 0 or x != ordered[i - 1]]


def _add(v: Any) -> Any:
    total = None
    for item in _values(v):
        total = _binary("+", total, item)
    return total


_BUILTINS: dict[str, Callable[[Any], Any]] = {
    "length": _length,
    "keys": _keys,
    "keys_unsorted": lambda v: list(v) if isinstance(v, dict) else _keys(v),
    "values": lambda v: list(_values(v)),
    "type": _type,
    "not": lambda v: not _truthy(v),
    "tostring": lambda v: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")),
    "tojson": lambda v: json.dumps(v, separators=(",", ":")),
    "fromjson": lambda v: json.loads(v),
    "tonumber": _tonumber,
    "ascii_downcase": lambda v: _string(v, "ascii_downcase").lower(),
    "ascii_upcase": lambda v: _string(v, "ascii_upcase").upper(),
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "reverse": lambda v: v[::-1] if v is not None else [],
    "sort": lambda v: sorted(v, key=_order_key),
    "unique": lambda v: _unique(sorted(v, key=_order_key)),
    "min": lambda v: min(v, key=_order_key) if v else None,
    "max": lambda v: max(v, key=_order_key) if v else None,
    "add": _add,
    "floor": lambda v: math.floor(v),
    "to_entries": lambda v: [{"key": k, "value": x} for k, x in v.items()],
    "any": lambda v: any(_truthy(x) for x in _values(v)),
    "all": lambda v: all(_truthy(x) for x in _values(v)),
    "@json": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
    "@text": lambda v: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")),
    "@csv": lambda v: ",".join(_csv_field(x) for x in v),
    "@base64": lambda v: base64.b64encode(_text(v).encode()).decode(),
    "@uri": lambda v: quote(_text(v), safe="-_.~"),
    "from_entries": lambda v: {str(e.get("key", e.get("name"))): e.get("value") for e in v},
}


def _string(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise JqError(f"jq: {name} needs a string, got {_type(v)}")
    return v


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def _csv_field(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace('"', '""') + '"'
    if isinstance(v, list | dict):
        raise JqError(f"jq: {_type(v)} is not valid in a csv row")
    return "" if v is None else json.dumps(v)


# The one-argument functions on strings (input and argument both strings, as jq requires).
_STRING_ARG: dict[str, Callable[[str, str], Any]] = {
    "split": lambda value, arg: value.split(arg),
    "startswith": lambda value, arg: value.startswith(arg),
    "endswith": lambda value, arg: value.endswith(arg),
    "ltrimstr": lambda value, arg: value[len(arg) :] if value.startswith(arg) else value,
    "rtrimstr": lambda value, arg: value[: -len(arg)] if arg and value.endswith(arg) else value,
}


def _join(value: Any, arg: Any) -> str:
    return str(arg).join("" if v is None else v if isinstance(v, str) else json.dumps(v) for v in _values(value))


# The other one-argument functions that take each value of their argument.
_VALUE_ARG: dict[str, Callable[[Any, Any], Any]] = {
    "has": lambda value, arg: _has(value, arg),
    "join": _join,
    "index": lambda value, arg: _first_index(value, arg),
    "contains": lambda value, arg: _contains(value, arg),
}


def _with_arg(name: str, value: Any, arg: Any) -> Any:
    on_strings = _STRING_ARG.get(name)
    if on_strings is not None:
        if not (isinstance(value, str) and isinstance(arg, str)):
            raise JqError(f"jq: {name} needs string input and argument, got {_type(value)} and {_type(arg)}")
        return on_strings(value, arg)
    on_values = _VALUE_ARG.get(name)
    if on_values is None:
        raise JqError(f"jq: unknown function {name}/1")
    return on_values(value, arg)


def _has(value: Any, arg: Any) -> bool:
    if isinstance(value, dict | None) and isinstance(arg, str):
        return arg in (value or {})
    if isinstance(value, list | None) and isinstance(arg, int | float) and not isinstance(arg, bool):
        return 0 <= arg < len(value or [])
    raise JqError(f"jq: cannot check whether {_type(value)} has a {_type(arg)} key")


def _first_index(value: Any, arg: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and isinstance(arg, str):
        found = value.find(arg)
        return None if found < 0 or not arg else found
    if isinstance(value, list):
        probe = arg if isinstance(arg, list) else [arg]
        n = len(probe)
        return next((i for i in range(len(value) - n + 1) if value[i : i + n] == probe), None)
    raise JqError(f"jq: cannot index {_type(value)} with {_type(arg)}")


def _contains(a: Any, b: Any) -> bool:
    if _type(a) != _type(b):
        raise JqError(f"jq: {_type(a)} and {_type(b)} cannot have their containment checked")
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in a and _contains(a[k], v) for k, v in b.items())
    if isinstance(a, list) and isinstance(b, list):
        return all(any(_contains(x, y) for x in a) for y in b)
    if isinstance(a, str) and isinstance(b, str):
        return b in a
    return bool(a == b)
