"""One execution's task runs as its page shows them: a page at any position of the start order, and the
counts of task runs per task id and state.

Start order is `state.startDate` ascending (the first date of its state history, which every indexed task
run has), then `id`: the order and the cursor of `search_taskruns(..., sort="state.startDate:asc")`, so a
page found by position pages on with the search's cursor. Within the first `MAX_WINDOW` positions a page is
a bounded `from`. Deeper, the start date of the task run at the position is found by narrowing the date
range with date histograms (each counts the task runs in 1,000 slices of the range and keeps the slice that
holds the position: 3 rounds for an hour's execution at millisecond precision, whatever its size), then the
page is read with `from` among the task runs that started at that date. A single millisecond holding more
than `MAX_WINDOW` task runs cannot be entered deeper than that: the page then starts at the deepest
position it can reach, and `offset` says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from conveyor.indexer.dsl import MAX_SIZE, MAX_WINDOW, encode_cursor, parse_sort
from conveyor.indexer.errors import QueryError
from conveyor.indexer.templates import TASKRUNS, alias

START_ORDER = "state.startDate:asc"
_START = "state.startDate"
# The most task ids and states counted (a flow of more tasks is counted for its first task ids by name).
MAX_TASKS = 10_000
MAX_STATES = 50
# The slices of a date histogram that narrows the start date of a position: 3 rounds for an hour in ms.
BUCKETS = 1_000


@dataclass(frozen=True)
class PositionPage:
    results: list[dict[str, Any]]
    total: int
    offset: int  # the position of results[0] in start order
    next: str | None  # the cursor of the search's `after` for the page that follows


def _of(execution_id: str, *more: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"filter": [{"term": {"executionId": execution_id}}, *more]}}


def _count(client: Elasticsearch, prefix: str, query: dict[str, Any]) -> int:
    found = client.count(index=alias(prefix, TASKRUNS), query=query, ignore_unavailable=True, allow_no_indices=True)
    return int(found["count"])


def _read(
    client: Elasticsearch, prefix: str, query: dict[str, Any], skip: int, size: int
) -> tuple[list[dict[str, Any]], str | None]:
    found = client.search(
        index=alias(prefix, TASKRUNS),
        query=query,
        sort=parse_sort(START_ORDER, {_START: _START}),
        from_=skip,
        size=size + 1,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    hits = found.body.get("hits", {}).get("hits", [])
    cursor = encode_cursor(hits[size - 1]["sort"]) if len(hits) > size else None
    return [h["_source"] for h in hits[:size]], cursor


def _started_at(client: Elasticsearch, prefix: str, execution_id: str, position: int, buckets: int) -> tuple[int, int]:
    """(t, n): the start date in epoch ms of the task run at `position`, and how many started before t."""
    bounds = client.search(
        index=alias(prefix, TASKRUNS),
        size=0,
        query=_of(execution_id),
        aggs={"first": {"min": {"field": _START}}, "last": {"max": {"field": _START}}},
        ignore_unavailable=True,
        allow_no_indices=True,
    ).body["aggregations"]
    low, high = int(bounds["first"]["value"]), int(bounds["last"]["value"])
    before = 0
    # Invariant: count(start < low) = before <= position < count(start <= high). Each round counts the task
    # runs of [low, high] in `buckets` slices (a date histogram) and keeps the slice that holds the position.
    while low < high:
        interval = -(-(high - low + 1) // buckets)  # ceil: at most `buckets` slices
        found = client.search(
            index=alias(prefix, TASKRUNS),
            size=0,
            query=_of(execution_id, {"range": {_START: {"gte": low, "lte": high}}}),
            aggs={"at": {"date_histogram": {"field": _START, "fixed_interval": f"{interval}ms", "min_doc_count": 1}}},
            ignore_unavailable=True,
            allow_no_indices=True,
        ).body["aggregations"]["at"]["buckets"]
        for bucket in found:
            if before + bucket["doc_count"] > position:
                start = int(bucket["key"])
                low, high = max(low, start), min(high, start + interval - 1)
                break
            before += bucket["doc_count"]
        else:  # not reached while the invariant holds: the task runs changed between two requests
            return high, before
    return low, before


def page_at(
    client: Elasticsearch,
    prefix: str,
    execution_id: str,
    offset: int,
    size: int,
    window: int = MAX_WINDOW,
    buckets: int = BUCKETS,
) -> PositionPage:
    """The task runs of `execution_id` at positions offset, offset + 1, ... in start order (`window`: how
    deep `from` may go, Elasticsearch's max_result_window; smaller in tests)."""
    if not 0 < size <= MAX_SIZE:
        raise QueryError(f"page size must be between 1 and {MAX_SIZE}, not {size}")
    if offset < 0:
        raise QueryError(f"offset must be 0 or more, not {offset}")
    total = _count(client, prefix, _of(execution_id))
    if offset >= total:
        return PositionPage([], total, offset, None)
    if offset + size < window:
        results, cursor = _read(client, prefix, _of(execution_id), offset, size)
        return PositionPage(results, total, offset, cursor)
    at, before = _started_at(client, prefix, execution_id, offset, buckets)
    query = _of(execution_id, {"range": {_START: {"gte": at}}})
    skip = max(0, min(offset - before, window - size - 1))
    results, cursor = _read(client, prefix, query, skip, size)
    return PositionPage(results, total, before + skip, cursor)


def counts_by_task(client: Elasticsearch, prefix: str, execution_id: str) -> tuple[int, dict[str, dict[str, int]]]:
    """(total, {task id: {state: task runs}}) over every indexed task run of the execution."""
    found = client.search(
        index=alias(prefix, TASKRUNS),
        size=0,
        track_total_hits=True,
        query=_of(execution_id),
        aggs={
            "tasks": {
                "terms": {"field": "taskId", "size": MAX_TASKS, "order": {"_key": "asc"}},
                "aggs": {"states": {"terms": {"field": "state.current", "size": MAX_STATES}}},
            }
        },
        ignore_unavailable=True,
        allow_no_indices=True,
    ).body
    total = int(found.get("hits", {}).get("total", {}).get("value", 0))
    buckets = found.get("aggregations", {}).get("tasks", {}).get("buckets", [])
    return total, {b["key"]: {s["key"]: int(s["doc_count"]) for s in b["states"]["buckets"]} for b in buckets}
