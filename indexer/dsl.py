"""The Elasticsearch query DSL behind the Task Runs queries: filters, sort, cursors, aggregations.

Pure functions from the queries' filters and page to `search` arguments, unit-tested without a server; the
rules (namespace prefix, `q`, the `start`/`end` window, `id` as the paging tiebreaker) are described in
`conveyor.indexer.filters`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer.errors import QueryError
from conveyor.indexer.filters import (
    SYSTEM_FLOW_NAMESPACE,
    Cursor,
    ExecutionFilters,
    LogFilters,
    Paging,
    SearchFilters,
    TaskRunFilters,
    When,
)

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


def namespace_filter(namespace: str) -> dict[str, Any]:
    return {
        "bool": {
            "should": [{"term": {"namespace": namespace}}, {"prefix": {"namespace": f"{namespace}."}}],
            "minimum_should_match": 1,
        }
    }


def allowed_filter(prefixes: tuple[str, ...]) -> dict[str, Any]:
    """Only documents in a namespace under one of `prefixes` (`""` is every one); none for no prefix."""
    if "" in prefixes:
        return {"match_all": {}}
    if not prefixes:
        return {"match_none": {}}
    return {"bool": {"should": [namespace_filter(p) for p in prefixes], "minimum_should_match": 1}}


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
    if isinstance(value, date):
        return value.isoformat()
    return value


def common_filters(filters: SearchFilters, text_fields: tuple[str, ...]) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    if filters.allowed is not None:
        clauses.append(allowed_filter(filters.allowed))
    if filters.namespace:
        clauses.append(namespace_filter(filters.namespace))
    if filters.flow_id:
        clauses.append({"term": {"flowId": filters.flow_id}})
    if filters.state:
        clauses.append({"terms": {"state.current": [str(s) for s in filters.state]}})
    if filters.q:
        clauses.append(text_filter(filters.q, text_fields))
    for key, value in (filters.labels or {}).items():
        match = [{"term": {"labels.key": key}}, {"term": {"labels.value": value}}]
        clauses.append({"nested": {"path": "labels", "query": {"bool": {"filter": match}}}})
    return clauses + time_range("state.startDate", filters.start, filters.end)


def taskrun_filters(filters: TaskRunFilters) -> list[dict[str, Any]]:
    clauses = common_filters(filters, TASKRUN_TEXT_FIELDS)
    if filters.execution_id:
        clauses.append({"term": {"executionId": filters.execution_id}})
    if filters.task_id:
        clauses.append({"term": {"taskId": filters.task_id}})
    if filters.trigger_id:
        clauses.append({"term": {"triggerId": filters.trigger_id}})
    if filters.trigger_execution_id:
        clauses.append({"term": {"triggerExecutionId": filters.trigger_execution_id}})
    return clauses


def execution_filters(filters: ExecutionFilters) -> list[dict[str, Any]]:
    """Every label given must be on the execution."""
    clauses = common_filters(filters, EXECUTION_TEXT_FIELDS)
    if filters.trigger_id:
        clauses.append({"term": {"trigger.id": filters.trigger_id}})
    if filters.trigger_execution_id:
        clauses.append({"term": {"triggerExecutionId": filters.trigger_execution_id}})
    has_parent = {"exists": {"field": "triggerExecutionId"}}
    if filters.child_filter == "CHILD":
        clauses.append(has_parent)
    elif filters.child_filter == "MAIN":
        clauses.append({"bool": {"must_not": [has_parent]}})
    scopes = set(filters.scope or ())
    if len(scopes) == 1:  # USER or SYSTEM: the system flow namespace's executions or the others
        system = {"term": {"namespace": SYSTEM_FLOW_NAMESPACE}}
        clauses.append(system if scopes == {"SYSTEM"} else {"bool": {"must_not": [system]}})
    return clauses


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


def search_body(clauses: list[dict[str, Any]], paging: Paging, sortable: Mapping[str, str]) -> dict[str, Any]:
    """`paging.offset` (a numbered page's `from`) is bounded by `MAX_WINDOW` and excludes `search_after`."""
    sort = parse_sort(paging.sort, sortable)
    size, offset, search_after = paging.size, paging.offset, paging.search_after
    if not 0 < size <= MAX_SIZE:
        raise QueryError(f"page size must be between 1 and {MAX_SIZE}, not {size}")
    if offset < 0 or offset + size + 1 > MAX_WINDOW:
        raise QueryError(f"numbered pages reach the first {MAX_WINDOW - 1} hits; page on with the cursor")
    if offset and search_after:
        raise QueryError("a page cursor cannot be combined with an offset")
    body: dict[str, Any] = {
        "query": {"bool": {"filter": clauses}} if clauses else {"match_all": {}},
        "sort": sort,
        "size": size,
        "track_total_hits": True,
    }
    if search_after:
        body["search_after"] = decode_cursor(search_after)
    if offset:
        body["from"] = offset
    return body


def taskrun_search(filters: TaskRunFilters | None = None, paging: Paging | None = None) -> dict[str, Any]:
    """The `search` arguments for `search_taskruns`."""
    return search_body(taskrun_filters(filters or TaskRunFilters()), paging or Paging(), TASKRUN_SORTS)


def execution_search(filters: ExecutionFilters | None = None, paging: Paging | None = None) -> dict[str, Any]:
    """The `search` arguments for `search_executions`."""
    return search_body(execution_filters(filters or ExecutionFilters()), paging or Paging(), EXECUTION_SORTS)


def log_search(
    execution_id: str,
    task_id: str | None = None,
    *,
    task_run_id: str | None = None,
    min_level: str | None = None,
    size: int = LOG_PAGE,
    allowed: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [{"term": {"executionId": execution_id}}]
    if allowed is not None:
        filters.append(allowed_filter(allowed))
    if task_id:
        filters.append({"term": {"taskId": task_id}})
    if task_run_id:
        filters.append({"term": {"taskRunId": task_run_id}})
    if min_level:
        filters.append(level_filter(min_level))
    # timestamp has millisecond precision: the position on the logs topic keeps a task run's lines in order.
    sort = [{"timestamp": "asc"}, {"offset": "asc"}, {"partition": "asc"}]
    return {"query": {"bool": {"filter": filters}}, "sort": sort, "size": size}


# Newest first by default; the position on the logs topic orders the lines of one millisecond.
LOG_SORTS = ("timestamp:desc", "timestamp:asc")
# Counting more matching lines than this is not worth its cost: `total` is then a lower bound.
LOG_TOTAL_LIMIT = 10_000


def level_filter(min_level: str) -> dict[str, Any]:
    floor = LogLevel(min_level.upper()).rank
    return {"terms": {"level": [lvl.value for lvl in LogLevel if lvl.rank >= floor]}}


def time_range(field: str, start: When | None, end: When | None) -> list[dict[str, Any]]:
    """A `range` clause over `field` from `start` to `end` (both inclusive); none without a bound."""
    bounds = {}
    if start is not None:
        bounds["gte"] = _when(start)
    if end is not None:
        bounds["lte"] = _when(end)
    return [{"range": {field: bounds}}] if bounds else []


def log_filters(filters: LogFilters) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    if filters.allowed is not None:
        clauses.append(allowed_filter(filters.allowed))
    if filters.namespace:
        clauses.append(namespace_filter(filters.namespace))
    for field, value in (
        ("flowId", filters.flow_id),
        ("executionId", filters.execution_id),
        ("taskId", filters.task_id),
    ):
        if value:
            clauses.append({"term": {field: value}})
    if filters.min_level:
        clauses.append(level_filter(filters.min_level))
    if filters.q:
        clauses.append({"match": {"message": {"query": filters.q, "operator": "and"}}})
    return clauses + time_range("timestamp", filters.start, filters.end)


def log_page_search(
    filters: LogFilters, *, size: int, sort: str = LOG_SORTS[0], after: Cursor | None = None
) -> dict[str, Any]:
    """The `search` arguments of one page of log lines across executions, after the `after` cursor."""
    if sort not in LOG_SORTS:
        raise QueryError(f"cannot sort log lines by {sort!r}; use {' or '.join(LOG_SORTS)}")
    if not 0 < size <= MAX_SIZE:
        raise QueryError(f"page size must be between 1 and {MAX_SIZE}, not {size}")
    order = sort.partition(":")[2]
    clauses = log_filters(filters)
    body: dict[str, Any] = {
        "query": {"bool": {"filter": clauses}} if clauses else {"match_all": {}},
        "sort": [{"timestamp": order}, {"partition": order}, {"offset": order}],
        "size": size,
        "track_total_hits": LOG_TOTAL_LIMIT,
    }
    if after:
        body["search_after"] = decode_cursor(after)
    return body


def day(value: When) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def days_of(filters: SearchFilters) -> tuple[date, date]:
    """The first and the last day of the filters' window, which the daily statistics need."""
    if filters.start is None or filters.end is None:
        raise QueryError("daily statistics need a start and an end")
    return day(filters.start), day(filters.end)


def daily_stats_search(filters: TaskRunFilters, *, time_zone: str = "UTC") -> dict[str, Any]:
    """Task runs per day, the days (in `time_zone`) from `filters.start`'s to `filters.end`'s."""
    first, last = (d.isoformat() for d in days_of(filters))
    clauses = taskrun_filters(replace(filters, start=None, end=None))
    clauses.append(
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
        "query": {"bool": {"filter": clauses}},
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
