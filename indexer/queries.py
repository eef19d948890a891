"""The Task Runs queries: what the CLI and the HTTP API ask of Elasticsearch.

Results are plain dicts in the reference's camelCase shape: a task run is the TaskRun JSON plus
`attemptsCount`, `workerId` and `revision` (and `state.durationMs`); an execution is the Execution
JSON without `taskRunList`, plus `taskRunCount`; a log line is the LogEntry JSON.

The searches take their filters and page as `conveyor.indexer.filters` models (which describes the filters),
or field by field as keywords: `search_taskruns(client, prefix, execution_id=x, size=1)`.

Paging is always `search_after` on the requested sort plus `id` as the tiebreaker; `Page.next` is an
opaque cursor to pass back as `search_after`, None on the last page. A missing index (nothing indexed
yet) reads as no results, never as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from conveyor.common.state import StateType
from conveyor.indexer.dsl import (
    MAX_SIZE,
    daily_stats_search,
    days_of,
    encode_cursor,
    execution_search,
    log_page_search,
    log_search,
    taskrun_search,
)
from conveyor.indexer.errors import QueryError
from conveyor.indexer.filters import Cursor, ExecutionFilters, LogFilters, Paging, TaskRunFilters, with_fields
from conveyor.indexer.templates import AUDIT, EXECUTIONS, LOGS, TASKRUNS, alias

# What the list pages ask for (`total_limit`): a search that need not count every hit lets Elasticsearch skip
# the segments that cannot reach the page (its sort optimization); 4 times faster at 1,000,000 task runs.
LIST_TOTAL_LIMIT = 10_000


@dataclass(frozen=True)
class Page:
    results: list[dict[str, Any]]
    total: int
    next: Cursor | None = None
    exact: bool = True  # False: more hits match than `total` (counted up to a `total_limit`)


def _search(client: Elasticsearch, index: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.search(index=index, ignore_unavailable=True, allow_no_indices=True, **body)
    return dict(response.body)


def _page(client: Elasticsearch, index: str, body: dict[str, Any], total_limit: int | None = None) -> Page:
    """One page; asks for one hit more than the page holds, so `next` is None exactly on the last page.
    `total_limit`: count the hits up to that many only (the total is then a floor, `exact` False)."""
    size = body["size"]
    if total_limit is not None:
        body = {**body, "track_total_hits": total_limit}
    hits = _search(client, index, {**body, "size": size + 1}).get("hits", {})
    items = hits.get("hits", [])
    total = hits.get("total", {}).get("value", 0)
    exact = hits.get("total", {}).get("relation", "eq") == "eq"
    cursor = encode_cursor(items[size - 1]["sort"]) if len(items) > size else None
    return Page([h["_source"] for h in items[:size]], total, cursor, exact)


def search_taskruns(
    client: Elasticsearch,
    prefix: str,
    filters: TaskRunFilters | None = None,
    paging: Paging | None = None,
    *,
    total_limit: int | None = None,
    **named: Any,
) -> Page:
    """One page of task runs; `paging.offset` skips that many hits (numbered pages, bounded by `MAX_WINDOW`)."""
    filters, paging = with_fields(filters or TaskRunFilters(), paging or Paging(), named)
    return _page(client, alias(prefix, TASKRUNS), taskrun_search(filters, paging), total_limit)


def search_executions(
    client: Elasticsearch,
    prefix: str,
    filters: ExecutionFilters | None = None,
    paging: Paging | None = None,
    *,
    total_limit: int | None = None,
    **named: Any,
) -> Page:
    filters, paging = with_fields(filters or ExecutionFilters(), paging or Paging(), named)
    return _page(client, alias(prefix, EXECUTIONS), execution_search(filters, paging), total_limit)


def get_execution(client: Elasticsearch, prefix: str, execution_id: str) -> dict[str, Any] | None:
    """The execution's document (Execution JSON without `taskRunList`), None if not indexed."""
    body = {"query": {"ids": {"values": [execution_id]}}, "size": 1, "sort": [{"revision": "desc"}]}
    hits = _search(client, alias(prefix, EXECUTIONS), body).get("hits", {}).get("hits", [])
    return dict(hits[0]["_source"]) if hits else None


def search_logs(
    client: Elasticsearch,
    prefix: str,
    execution_id: str,
    task_id: str | None = None,
    *,
    task_run_id: str | None = None,
    min_level: str | None = None,
    allowed: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """Every log line of the execution (or of one task / task run), oldest first; only in the namespaces
    under `allowed` (None: every namespace)."""
    body = log_search(execution_id, task_id, task_run_id=task_run_id, min_level=min_level, allowed=allowed)
    lines: list[dict[str, Any]] = []
    while True:
        hits = _search(client, alias(prefix, LOGS), body).get("hits", {}).get("hits", [])
        lines.extend(_log_line(hit) for hit in hits)
        if len(hits) < body["size"]:
            return lines
        body["search_after"] = hits[-1]["sort"]


def _log_line(hit: dict[str, Any]) -> dict[str, Any]:
    """The LogEntry JSON of a hit, without its position on the topic (the index's own ordering)."""
    line = dict(hit["_source"])
    line.pop("partition", None)
    line.pop("offset", None)
    return line


@dataclass(frozen=True)
class LogPage:
    results: list[dict[str, Any]]
    total: int
    exact: bool  # False: more lines match than `total` (the count stops there)
    next: Cursor | None = None


def search_log_page(
    client: Elasticsearch,
    prefix: str,
    filters: LogFilters,
    *,
    size: int = 100,
    sort: str = "timestamp:desc",
    after: Cursor | None = None,
) -> LogPage:
    """One page of the log lines of every execution the filters match, newest first (or oldest)."""
    body = log_page_search(filters, size=size, sort=sort, after=after)
    hits = _search(client, alias(prefix, LOGS), {**body, "size": size + 1}).get("hits", {})
    items = hits.get("hits", [])
    total = hits.get("total", {})
    cursor = encode_cursor(items[size - 1]["sort"]) if len(items) > size else None
    return LogPage(
        [_log_line(h) for h in items[:size]], int(total.get("value", 0)), total.get("relation", "eq") == "eq", cursor
    )


def search_audit(
    client: Elasticsearch,
    prefix: str,
    *,
    user: str | None = None,
    since: datetime | None = None,
    namespace: str | None = None,
    result: str | None = None,
    size: int = 100,
) -> list[dict[str, Any]]:
    """The newest audit records first (at most `size`, up to `MAX_SIZE`): of one user, since a date, in one
    namespace, with one result (`SUCCESS`, `DENIED`, `FAILED`)."""
    if not 0 < size <= MAX_SIZE:
        raise QueryError(f"size must be between 1 and {MAX_SIZE}, not {size}")
    clauses: list[dict[str, Any]] = []
    if user:
        clauses.append({"term": {"user": user}})
    if namespace:
        clauses.append({"term": {"namespace": namespace}})
    if result:
        clauses.append({"term": {"result": result}})
    if since is not None:
        clauses.append({"range": {"timestamp": {"gte": since.isoformat()}}})
    body = {
        "query": {"bool": {"filter": clauses}} if clauses else {"match_all": {}},
        "sort": [{"timestamp": "desc"}, {"id": "desc"}],
        "size": size,
    }
    hits = _search(client, alias(prefix, AUDIT), body).get("hits", {}).get("hits", [])
    return [dict(hit["_source"]) for hit in hits]


def daily_taskrun_stats(
    client: Elasticsearch,
    prefix: str,
    filters: TaskRunFilters | None = None,
    *,
    time_zone: str = "UTC",
    **named: Any,
) -> list[dict[str, Any]]:
    """One entry per day from `start`'s to `end`'s (inclusive, empty days too; both required), by the day
    task runs started: `{"startDate": "2024-05-01", "counts": {"SUCCESS": 3, ...every state...},
      "duration": {"count": 3, "min": ms, "avg": ms, "max": ms, "sum": ms}}` (None when no task run)."""
    filters = replace(filters or TaskRunFilters(), **named)
    body = daily_stats_search(filters, time_zone=time_zone)
    response = _search(client, alias(prefix, TASKRUNS), body)
    buckets = {b["key_as_string"]: b for b in response.get("aggregations", {}).get("days", {}).get("buckets", [])}
    days = []
    current, last = days_of(filters)
    while current <= last:
        days.append(_stats_entry(current.isoformat(), buckets.get(current.isoformat())))
        current += timedelta(days=1)
    return days


def _stats_entry(day: str, bucket: dict[str, Any] | None) -> dict[str, Any]:
    counts = {s.value: 0 for s in StateType}
    duration: dict[str, Any] = {"count": 0, "min": None, "avg": None, "max": None, "sum": 0}
    if bucket:
        for b in bucket["states"]["buckets"]:
            counts[b["key"]] = b["doc_count"]
        stats = bucket["duration"]
        duration = {k: stats.get(k) for k in ("count", "min", "avg", "max", "sum")}
    return {"startDate": day, "counts": counts, "duration": duration}
