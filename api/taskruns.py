"""`/api/v1/taskruns/search` and `/api/v1/stats/taskruns/daily`: the Task Runs view over Elasticsearch.

Paging: `page` and `size` address the first `MAX_WINDOW` hits directly (a bounded `from`); every answer
also carries `next`, a cursor for `after` that pages on with `search_after` as deep as the data goes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import BadParameter, error_responses
from conveyor.api.identity import authenticated, readable
from conveyor.api.params import (
    DATE_HELP,
    DATE_SCHEMA,
    TIME_ZONES,
    PageParams,
    TaskRunFilterParams,
    check_time_zone,
    taskrun_filters,
)
from conveyor.indexer import queries
from conveyor.indexer.filters import TaskRunFilters

router = APIRouter(prefix="/api/v1", tags=["task runs"], dependencies=[Depends(authenticated)])

# The longest daily statistics window, in days.
MAX_DAYS = 731


class TaskRunPage(BaseModel):
    results: list[dict[str, Any]] = Field(description="task-run documents: the TaskRun JSON plus attemptsCount, ...")
    total: int = Field(
        description=f"how many task runs match (counted up to {queries.LIST_TOTAL_LIMIT:,} unless one execution's)"
    )
    total_exact: bool = Field(
        alias="totalExact", description="false when more task runs match than `total` (the count stopped there)"
    )
    next: str | None = Field(description="cursor of the next page (pass it as `after`), null on the last page")


@router.get(
    "/taskruns/search",
    response_model=TaskRunPage,
    summary="Search task runs",
    responses=error_responses(400, 401, 403, 422, 429, 503),
)
def search_taskruns(
    request: Request,
    filters: Annotated[TaskRunFilters, Depends(taskrun_filters)],
    api: Annotated[Backends, Depends(backends)],
    paging: Annotated[PageParams, Query()],
) -> TaskRunPage:
    # Checked here rather than in a dependency, which FastAPI would call even when another parameter failed
    # validation: a request with a bad `state` and a bad `sort` is answered 422 for `state`.
    filters = replace(filters, allowed=readable(request))  # inside the query: totals and cursors too
    # One execution's are counted in full (the Execution page's Gantt is as tall as its task runs are many).
    limit = None if filters.execution_id else queries.LIST_TOTAL_LIMIT
    found = queries.search_taskruns(api.client, api.prefix, filters, paging.paging(), total_limit=limit)
    return TaskRunPage(results=found.results, total=found.total, totalExact=found.exact, next=found.next)


class DailyStatsQuery(TaskRunFilterParams):
    """The filters of the task-run search, as a JSON body; the window defaults to the last 30 days."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    start_date: str | None = Field(
        default=None, description=f"first day ({DATE_HELP}); default endDate - 29 days", json_schema_extra=DATE_SCHEMA
    )
    end_date: str | None = Field(
        default=None, description=f"last day ({DATE_HELP}); default today", json_schema_extra=DATE_SCHEMA
    )
    time_zone: str = Field(
        default="UTC", description="IANA time zone in which days begin and end", json_schema_extra={"enum": TIME_ZONES}
    )


class DayDuration(BaseModel):
    count: int
    min: float | None
    avg: float | None
    max: float | None
    sum: float | None


class DailyStats(BaseModel):
    startDate: str = Field(description="the day, YYYY-MM-DD")
    counts: dict[str, int] = Field(description="task runs started that day, by current state")
    duration: DayDuration = Field(description="durations in milliseconds of those task runs")


@router.post(
    "/stats/taskruns/daily",
    response_model=list[DailyStats],
    summary="Task runs per day",
    responses=error_responses(400, 401, 403, 422, 429, 503),
)
def daily_stats(
    request: Request,
    api: Annotated[Backends, Depends(backends)],
    body: Annotated[DailyStatsQuery | None, Body()] = None,
) -> list[dict[str, Any]]:
    body = body or DailyStatsQuery()
    zone = check_time_zone(body.time_zone)
    start, end = body.window(where="body")
    last = end.date() if end else datetime.now(UTC).date()
    first = start.date() if start else last - timedelta(days=29)
    if first > last and end is None:  # a start after today and no end: the 30 days from the start
        last = first + timedelta(days=29)
    if first > last:
        raise BadParameter("startDate", f"{first} is after the endDate {last}", where="body")
    # A longer window is cut to its last MAX_DAYS days (a dashboard asking "since 2000" gets the last two years).
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    filters = replace(body.filters(first, last), allowed=readable(request))
    return queries.daily_taskrun_stats(api.client, api.prefix, filters, time_zone=zone)
