"""The path builtins of the `jq` filter: `paths`, `paths(f)`, `leaf_paths`, `getpath(p)` and `tostream`.

A path is the list of keys and indices from the input to a value; `paths` gives every path but the empty one,
in the order of `..` (a value before its children, an object's keys in their order). `tostream` gives, in
that order, `[path, leaf]` for each scalar and empty array or object, and `[path]` (the path of its last child)
where a non-empty array or object ends, as jq's streaming form.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conveyor.common.jq_values import JqError, _index, _type


def _children(value: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, list):
        yield from enumerate(value)
    elif isinstance(value, dict):
        yield from value.items()


def walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, value) of `value` and of everything inside it, a value before its children."""
    yield path, value
    for key, child in _children(value):
        yield from walk(child, (*path, key))


def paths(value: Any) -> Iterator[list[Any]]:
    for path, _ in walk(value):
        if path:
            yield list(path)


def getpath(value: Any, path: Any) -> Any:
    if not isinstance(path, list):
        raise JqError(f"jq: Path must be specified as an array, not {_type(path)}")
    for key in path:
        if value is None:
            return None
        value = _index(value, key)
    return value


def tostream(value: Any, path: tuple[Any, ...] = ()) -> Iterator[list[Any]]:
    last = None
    for key, child in _children(value):
        last = key
        yield from tostream(child, (*path, key))
    if last is None:
        yield [list(path), value]
    else:
        yield [[*path, last]]
