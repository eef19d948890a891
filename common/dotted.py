"""Dotted ids as nested maps, as the reference nests inputs (`MapUtils.flattenToNestedMap`)."""

from __future__ import annotations

from typing import Any


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"a.b": 1, "c": 2}` as `{"a": {"b": 1}, "c": 2}`; `ValueError` if an id is also another's group."""
    out: dict[str, Any] = {}
    leaves: set[tuple[str, ...]] = set()
    groups: set[tuple[str, ...]] = set()
    for key, value in flat.items():
        path = tuple(key.split("."))
        prefixes = [path[:i] for i in range(1, len(path))]
        if path in leaves or path in groups or any(p in leaves for p in prefixes):
            raise ValueError(f"ids conflict at '{key}': one name is both a value and a group")
        leaves.add(path)
        groups.update(prefixes)
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out
