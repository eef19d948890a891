"""Labels as the reference accepts them in flows and triggers: a map, or a list of `{key, value}`."""

from __future__ import annotations

from typing import Any


def labels_map(value: Any) -> Any:
    """A `{key: value}` map of strings from either form; anything else is left for validation to refuse."""
    if isinstance(value, list):
        return {str(item.get("key")): str(item.get("value")) for item in value if isinstance(item, dict)}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value
