"""Labels as the reference accepts them in flows and triggers: a map, or a list of `{key, value}`."""

from __future__ import annotations

from typing import Any


def labels_map(value: Any) -> Any:
    """A `{key: value}` map of strings from either form; anything else is left for validation to refuse. An
    item of the list that is not a `{key, value}` (`labels: [env, prod]`) is a `ValueError` naming it: it was
    dropped silently, a label the author thought set."""
    if isinstance(value, list):
        pairs = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict) or item.get("key") is None or item.get("value") is None:
                shown = repr(item) if len(repr(item)) <= 60 else repr(item)[:57] + "..."
                raise ValueError(f"item {index} is not a {{key, value}} pair: {shown}")
            pairs[str(item["key"])] = str(item["value"])
        return pairs
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value
