"""The Kibana saved objects in deploy/kibana: well-formed ndjson whose references resolve and whose every
field exists, indexed and aggregatable, in the task runs index template. (Kibana itself does not run here.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conveyor.indexer.templates import MAPPINGS, STATE, TASKRUNS, alias

NDJSON = Path(__file__).resolve().parents[2] / "deploy" / "kibana" / "taskruns-dashboard.ndjson"


def _objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text().splitlines() if line.strip()]


def _indexed_fields() -> dict[str, dict[str, Any]]:
    """Dotted field name -> mapping, for every field of the task runs template that is indexed."""
    fields: dict[str, dict[str, Any]] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{name}.")
            elif spec.get("enabled", True) is not False:
                fields[f"{prefix}{name}"] = spec

    walk({**MAPPINGS[TASKRUNS], **STATE["properties"]}, "")
    return fields


def test_every_object_is_well_formed_and_every_reference_resolves() -> None:
    objects = _objects()
    ids = {(o["type"], o["id"]) for o in objects}
    assert {o["type"] for o in objects} == {"index-pattern", "visualization", "search", "dashboard"}
    for obj in objects:
        assert obj["attributes"]["title"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in ids, ref
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert {p["panelRefName"] for p in panels} == {r["name"] for r in dashboard["references"]}
    assert len(panels) == 4


def test_the_data_view_is_the_task_runs_alias_with_the_start_date_as_time() -> None:
    view = next(o for o in _objects() if o["type"] == "index-pattern")
    assert view["attributes"]["title"] == alias("conveyor", TASKRUNS)
    assert view["attributes"]["timeFieldName"] == "state.startDate"


def test_every_field_used_is_indexed_and_aggregations_use_aggregatable_types() -> None:
    fields = _indexed_fields()
    aggregatable = {"keyword", "date", "long", "integer", "double"}
    used = []
    for obj in _objects():
        attributes = obj["attributes"]
        if "visState" in attributes:
            for agg in json.loads(attributes["visState"])["aggs"]:
                field = agg["params"].get("field")
                if field:
                    assert fields[field]["type"] in aggregatable, (obj["id"], field)
                    used.append(field)
        used += attributes.get("columns", [])
        used += [s[0] for s in attributes.get("sort", [])]
        source = json.loads(attributes.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON", "{}"))
        query = (source.get("query") or {}).get("query", "")
        used += re.findall(r"([A-Za-z][\w.]*):", query)
    assert set(used) >= {"state.startDate", "state.current", "state.durationMs", "taskId", "flowId"}
    for field in used:
        assert field in fields, field
