"""The Elasticsearch query DSL behind the Task Runs queries: filters, sort, cursors, aggregations.

Pure functions from the queries' arguments to `search` arguments, unit-tested without a server; the
rules (namespace prefix, `q`, the `start`/`end` window, `id` as the paging tiebreaker) are described in
`conveyor.indexer.queries`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer.errors import QueryError

# One page; the queries ask for one more hit, and `from + size` stays under max_result_window.
MAX_SIZE = 1_000
# How far numbered pages (`from`) reach; past it, only the `search_after` cursor pages on.
MAX_WINDOW = 10_000
LOG_PAGE = 1_000

_STATE_SORTS = {
    "state": "state.current",
    "state.current": "state.current",
    "startDate": "state.startDate",
    "state.startDate": "state.startDate",
    "endDate": "state.endDate",
    "state.endDate": "state.endDate",
    "duration": "state.durationMs",
    "state.duration": "state.durationMs",
    "state.durationMs": "state.durationMs",
}
_COMMON_SORTS = {"id": "id", "namespace": "namespace", "flowId": "flowId", "revision": "revision"}
TASKRUN_SORTS = {
    **_STATE_SORTS,
    **_COMMON_SORTS,
    "executionId": "executionId",
    "taskId": "taskId",
    "attemptsCount": "attemptsCount",
    "iteration": "iteration",
}
EXECUTION_SORTS = {**_STATE_SORTS, **_COMMON_SORTS, "flowRevision": "flowRevision", "taskRunCount": "taskRunCount"}

TASKRUN_TEXT_FIELDS = ("id", "executionId", "namespace", "flowId", "taskId", "value")
EXECUTION_TEXT_FIELDS = ("id", "namespace", "flowId")

Cursor = str
When = datetime | str


def namespace_filter(namespace: str) -> dict[str, Any]:
    return {
        "bool": {
            "should": [{"term": {"namespace": namespace}}, {"prefix": {"namespace": f"{namespace}."}}],
            "minimum_should_match": 1,
        }
    }


def text_filter(q: str, fields: tuple[str, ...]) -> dict[str, Any]:
    pattern = "*" + q.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?") + "*"
    return {
        "bool": {
            "should": [{"wildcard": {f: {"value": pattern, "case_insensitive": True}}} for f in fields],
            "minimum_should_match": 1,
        }
    }


def _when(value: When) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def common_filters(
    *,
    namespace: str | None = None,
    flow_id: str | None = None,
    state: list[str] | None = None,
    q: str | None = None,
    text_fields: tuple[str, ...] = TASKRUN_TEXT_FIELDS,
    start: When | None = None,
    end: When | None = None,
) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    if namespace:
        filters.append(namespace_filter(namespace))
    if flow_id:
        filters.append({"term": {"flowId": flow_id}})
    if state:
        filters.append({"terms": {"state.current": [str(s) for s in state]}})
    if q:
        filters.append(text_filter(q, text_fields))
    if start is not None or end is not None:
        bounds = {}
        if start is not None:
            bounds["gte"] = _when(start)
        if end is not None:
            bounds["lte"] = _when(end)
        filters.append({"range": {"state.startDate": bounds}})
    return filters


def parse_sort(sort: str, fields: Mapping[str, str]) -> list[dict[str, Any]]:
    """`"state.startDate:desc,taskId"` -> Elasticsearch sort clauses, always ending with `id` (the
    tiebreaker that makes `search_after` exact)."""
    clauses: list[dict[str, Any]] = []
    names = []
    for part in filter(None, (p.strip() for p in sort.split(","))):
        name, _, order = part.partition(":")
        order = (order or "asc").lower()
        if name not in fields:
            raise QueryError(f"cannot sort by {name!r}; sortable fields: {', '.join(sorted(fields))}")
        if order not in ("asc", "desc"):
            raise QueryError(f"sort order must be asc or desc, not {order!r}")
        names.append(fields[name])
        clauses.append({fields[name]: {"order": order, "missing": "_last"}})
    if "id" not in names:
        clauses.append({"id": {"order": "asc"}})
    return clauses


def encode_cursor(sort_values: list[Any]) -> Cursor:
    return base64.urlsafe_b64encode(json.dumps(sort_values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: Cursor) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise QueryError(f"not a page cursor: {cursor!r}") from exc
    if not isinstance(values, list):
        raise QueryError(f"not a page cursor: {cursor!r}")
    return values


def search_body(
    filters: list[dict[str, Any]],
    *,
    sort: list[dict[str, Any]],
    size: int,
    search_after: Cursor | None,
    offset: int = 0,
) -> dict[str, Any]:
    """`offset` (a numbered page's `from`) is bounded by `MAX_WINDOW` and excludes `search_after`."""
    if not 0 < size <= MAX_SIZE:
        raise QueryError(f"page size must be between 1 and {MAX_SIZE}, not {size}")
    if offset < 0 or offset + size + 1 > MAX_WINDOW:
        raise QueryError(f"numbered pages reach the first {MAX_WINDOW - 1} hits; page on with the cursor")
    if offset and search_after:
        raise QueryError("a page cursor cannot be combined with an offset")
    body: dict[str, Any] = {
        "query": {"bool": {"filter": filters}} if filters else {"match_all": {}},
        "sort": sort,
        "size": size,
        "track_total_hits": True,
    }
    if search_after:
        body["search_after"] = decode_cursor(search_after)
    if offset:
        body["from"] = offset
    return body


def taskrun_search(
    *,
    namespace: str | None = None,
    flow_id: str | None = None,
    state: list[str] | None = None,
    execution_id: str | None = None,
    task_id: str | None = None,
    q: str | None = None,
    start: When | None = None,
    end: When | None = None,
    size: int = 25,
    sort: str = "state.startDate:desc",
    search_after: Cursor | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    """The `search` arguments for `search_taskruns`."""
    filters = common_filters(namespace=namespace, flow_id=flow_id, state=state, q=q, start=start, end=end)
    if execution_id:
        filters.append({"term": {"executionId": execution_id}})
    if task_id:
        filters.append({"term": {"taskId": task_id}})
    sort_clauses = parse_sort(sort, TASKRUN_SORTS)
    return search_body(filters, sort=sort_clauses, size=size, search_after=search_after, offset=offset)


def execution_search(
    *,
    namespace: str | None = None,
    flow_id: str | None = None,
    state: list[str] | None = None,
    labels: Mapping[str, str] | None = None,
    q: str | None = None,
    start: When | None = None,
    end: When | None = None,
    size: int = 25,
    sort: str = "state.startDate:desc",
    search_after: Cursor | None = None,
) -> dict[str, Any]:
    """The `search` arguments for `search_executions`; every label given must be on the execution."""
    filters = common_filters(
        namespace=namespace, flow_id=flow_id, state=state, q=q, text_fields=EXECUTION_TEXT_FIELDS, start=start, end=end
    )
    for key, value in (labels or {}).items():
        match = [{"term": {"labels.key": key}}, {"term": {"labels.value": value}}]
        filters.append({"nested": {"path": "labels", "query": {"bool": {"filter": match}}}})
    return search_body(filters, sort=parse_sort(sort, EXECUTION_SORTS), size=size, search_after=search_after)


def log_search(
    execution_id: str,
    task_id: str | None = None,
    *,
    task_run_id: str | None = None,
    min_level: str | None = None,
    size: int = LOG_PAGE,
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [{"term": {"executionId": execution_id}}]
    if task_id:
        filters.append({"term": {"taskId": task_id}})
    if task_run_id:
        filters.append({"term": {"taskRunId": task_run_id}})
    if min_level:
        floor = LogLevel(min_level.upper()).rank
        filters.append({"terms": {"level": [lvl.value for lvl in LogLevel if lvl.rank >= floor]}})
    # timestamp has millisecond precision: the position on the logs topic keeps a task run's lines in order.
    sort = [{"timestamp": "asc"}, {"offset": "asc"}, {"partition": "asc"}]
    return {"query": {"bool": {"filter": filters}}, "sort": sort, "size": size}


def day(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def daily_stats_search(
    *,
    start: date | datetime | str,
    end: date | datetime | str,
    namespace: str | None = None,
    flow_id: str | None = None,
    task_id: str | None = None,
    state: list[str] | None = None,
    execution_id: str | None = None,
    q: str | None = None,
    time_zone: str = "UTC",
) -> dict[str, Any]:
    first, last = day(start).isoformat(), day(end).isoformat()
    filters = common_filters(namespace=namespace, flow_id=flow_id, state=state, q=q)
    if execution_id:
        filters.append({"term": {"executionId": execution_id}})
    if task_id:
        filters.append({"term": {"taskId": task_id}})
    filters.append(
        {
            "range": {
                "state.startDate": {
                    "gte": f"{first}||/d",
                    "lte": f"{last}||/d",
                    "format": "yyyy-MM-dd",
                    "time_zone": time_zone,
                }
            }
        }
    )
    histogram = {
        "field": "state.startDate",
        "calendar_interval": "day",
        "format": "yyyy-MM-dd",
        "time_zone": time_zone,
        "min_doc_count": 0,
        "extended_bounds": {"min": first, "max": last},
    }
    return {
        "query": {"bool": {"filter": filters}},
        "size": 0,
        "aggs": {
            "days": {
                "date_histogram": histogram,
                "aggs": {
                    "states": {"terms": {"field": "state.current", "size": len(StateType)}},
                    "duration": {"stats": {"field": "state.durationMs"}},
                },
            }
        },
    }
