"""The reference's filters on lists, maps and numbers, and its tests (`is even`, `is iterable`…).

`first`/`last` take a string's first character too, `sort`/`rsort` sort a copy, `chunk(n)` cuts a list in
lists of `n`, `flatten` one level, `merge` joins two lists or two maps, `slice(from, to)` cuts a list or a
string, `number('DOUBLE' | 'BIGDECIMAL' | …)` parses a string as Java would type it and `className`
names that Java type (so the reference's own tests of them read the same).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from conveyor.common.expr_strings import FilterError


def _sequence(value: Any, name: str) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    raise FilterError(f"{name}: a list is needed, got {type_name(value)}")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _items(value: Any, name: str) -> list[Any]:
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return list(value)
    return _sequence(value, name)


def distinct(value: Any) -> list[Any] | None:
    """`distinct`: the list without its repeated items, the first of each kept in its place."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise FilterError(f"distinct: expected a list, got {type(value).__name__}")
    seen: set[str] = set()
    found = []
    for item in value:
        key = json.dumps(item, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            found.append(item)
    return found


def chunk(value: Any, size: Any) -> list[list[Any]]:
    items, n = _sequence(value, "chunk"), int(size)
    if n < 1:
        raise FilterError("chunk: the size must be at least 1")
    return [items[i : i + n] for i in range(0, len(items), n)]


def flatten(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in _sequence(value, "flatten"):
        out.extend(item if isinstance(item, list | tuple) else [item])
    return out


def first(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value[:1]
    items = _items(value, "first")
    return items[0] if items else None


def last(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value[-1:]
    items = _items(value, "last")
    return items[-1] if items else None


def length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | Mapping | list | tuple | set | frozenset):
        return len(value)
    raise FilterError(f"length: {type_name(value)} has no length")


def sort(value: Any) -> list[Any]:
    return sorted(_sequence(value, "sort"))


def rsort(value: Any) -> list[Any]:
    return sorted(_sequence(value, "rsort"), reverse=True)


def reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return _sequence(value, "reverse")[::-1]


def slice_(value: Any, fromIndex: Any = 0, toIndex: Any = None) -> Any:
    if not isinstance(value, str | list | tuple):
        raise FilterError(f"slice: a list or a string is needed, got {type_name(value)}")
    return value[int(fromIndex) : None if toIndex is None else int(toIndex)]


def join(value: Any, separator: Any = "") -> str:
    return str(separator).join("" if v is None else str(v) for v in _sequence(value, "join"))


def merge(value: Any, other: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(other, Mapping):
        return {**value, **other}
    return [*_sequence(value, "merge"), *_sequence(other, "merge")]


def keys(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.keys())
    return list(range(len(_sequence(value, "keys"))))


def values(value: Any) -> list[Any]:
    return _sequence(value, "values")


class JavaDouble(float):
    """A number `number('DOUBLE')` made: a float that `className` names `java.lang.Double`."""


class JavaBigInteger(int):
    """A number `number('BIGINTEGER')` made."""


_INT32 = 2**31
_INT64 = 2**63


def _integer_class(value: int) -> str:
    if isinstance(value, JavaBigInteger) or not -_INT64 <= value < _INT64:
        return "java.math.BigInteger"
    return "java.lang.Integer" if -_INT32 <= value < _INT32 else "java.lang.Long"


def class_name(value: Any) -> str:
    """The Java class the reference would hold this value in (a plain float is its `Float`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return _integer_class(value)
    if isinstance(value, JavaDouble):
        return "java.lang.Double"
    if isinstance(value, float):
        return "java.lang.Float"
    if isinstance(value, Decimal):
        return "java.math.BigDecimal"
    if isinstance(value, str):
        return "java.lang.String"
    return "java.util.Map" if isinstance(value, Mapping) else "java.util.List"


_NUMBER_TYPES: dict[str, Callable[[str], Any]] = {
    "INT": int,
    "INTEGER": int,
    "LONG": int,
    "FLOAT": float,
    "DOUBLE": JavaDouble,
    "BIGDECIMAL": Decimal,
    "BIGINTEGER": lambda text: JavaBigInteger(Decimal(text)),
}


def number(value: Any, type: Any = None) -> Any:
    """`number()`: a string as an integer (when it is one) or a float; `number('DOUBLE')` and the like."""
    if isinstance(value, int | float | Decimal) and type is None:
        return value
    text = str(value).strip()
    try:
        if type is not None:
            maker = _NUMBER_TYPES.get(str(type).upper())
            if maker is None:
                raise FilterError(f"number: unknown type {type!r} (one of {', '.join(_NUMBER_TYPES)})")
            return maker(text)
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except (ValueError, InvalidOperation) as exc:
        raise FilterError(f"number: cannot parse {value!r} as a number") from exc


class _Dumper(yaml.SafeDumper):
    """Writes a date string as it is: without the timestamp resolver PyYAML would quote it."""


_Dumper.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}


def to_yaml(value: Any) -> str:
    """`yaml`: the value as a YAML document (block style, keys in their order, no `...` end marker)."""
    out = yaml.dump(_jsonable(value), Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True)
    return out[: -len("...\n")] if out.endswith("\n...\n") else out


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_iso))


def is_even(value: Any) -> bool:
    return int(value) % 2 == 0


def is_odd(value: Any) -> bool:
    return int(value) % 2 == 1


def is_iterable(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset | Mapping)


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)
