"""Whether Elasticsearch refuses writes to Conveyor's indices, and why: a cluster-wide read-only block
(`cluster.blocks.read_only`, `read_only_allow_delete`), or an index block (`index.blocks.write`,
`read_only`, `read_only_allow_delete`, the last set by the flood-stage disk watermark)."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

_CLUSTER = ("cluster.blocks.read_only", "cluster.blocks.read_only_allow_delete")
_INDEX = ("index.blocks.write", "index.blocks.read_only", "index.blocks.read_only_allow_delete")


def write_blocks(client: Elasticsearch, prefix: str) -> str | None:
    """None when nothing blocks writes to `prefix-*`, else a line saying which blocks, on what."""
    found: list[str] = []
    settings = client.cluster.get_settings(flat_settings=True)
    for scope in ("persistent", "transient"):
        values: dict[str, Any] = settings.get(scope, {})
        found += [f"{key}=true ({scope})" for key in _CLUSTER if str(values.get(key)).lower() == "true"]
    indices = client.indices.get_settings(
        index=f"{prefix}-*", name="index.blocks.*", flat_settings=True, allow_no_indices=True, ignore_unavailable=True
    )
    blocked: dict[str, list[str]] = {}
    for index, body in indices.items():
        values = body.get("settings", {})
        for key in _INDEX:
            if str(values.get(key)).lower() == "true":
                blocked.setdefault(key, []).append(index)
    for key, names in sorted(blocked.items()):
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        found.append(f"{key}=true on {', '.join(sorted(names)[:3])}{more}")
    if not found:
        return None
    hint = (
        " (flood-stage disk watermark: free disk space, then clear the block)"
        if any("allow_delete" in f for f in found)
        else ""
    )
    return "writes refused: " + "; ".join(found) + hint
