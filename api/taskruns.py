"""`/api/v1/taskruns/search` and `/api/v1/stats/taskruns/daily`: the Task Runs view over Elasticsearch.

Paging: `page` and `size` address the first `MAX_WINDOW` hits directly (a bounded `from`); every answer
also carries `next`, a cursor for `after` that pages on with `search_after` as deep as the data goes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import BadParameter
from conveyor.api.params import (
    DATE_HELP,
    TaskRunFilters,
    check_cursor,
    check_sort,
    check_time_zone,
    check_window,
    parse_when,
    taskrun_filters,
)
from conveyor.common.state import StateType
from conveyor.indexer import queries
from conveyor.indexer.dsl import MAX_SIZE, MAX_WINDOW

router = APIRouter(prefix="/api/v1", tags=["task runs"])

# The longest daily statistics window, in days.
MAX_DAYS = 731


class TaskRunPage(BaseModel):
    results: list[dict[str, Any]] = Field(description="task-run documents: the TaskRun JSON plus attemptsCount, ...")
    total: int = Field(description="how many task runs match")
    next: str | None = Field(description="cursor of the next page (pass it as `after`), null on the last page")


@router.get("/taskruns/search", response_model=TaskRunPage, summary="Search task runs")
def search_taskruns(
    filters: Annotated[TaskRunFilters, Depends(taskrun_filters)],
    api: Annotated[Backends, Depends(backends)],
    page: Annotated[int, Query(ge=1, description=f"1-based page number, within the first {MAX_WINDOW} hits")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_SIZE)] = 25,
    sort: Annotated[
        str, Query(max_length=200, description="field:asc|desc, e.g. state.startDate:desc, taskId:asc")
    ] = "state.startDate:desc",
    after: Annotated[
        str | None, Query(max_length=2000, description="the `next` cursor of the previous page (overrides `page`)")
    ] = None,
) -> TaskRunPage:
    check_sort(sort)
    check_cursor(after)
    offset = 0 if after else (page - 1) * size
    if offset + size >= MAX_WINDOW:
        raise BadParameter("page", f"page x size must stay under {MAX_WINDOW}; page on with the `next` cursor")
    found = queries.search_taskruns(
        api.client, api.prefix, **filters.query_kwargs(), size=size, sort=sort, search_after=after, offset=offset
    )
    return TaskRunPage(results=found.results, total=found.total, next=found.next)


class DailyStatsQuery(BaseModel):
    """The filters of the task-run search, as a JSON body; the window defaults to the last 30 days."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    q: str | None = Field(default=None, max_length=200)
    namespace: str | None = Field(default=None, max_length=250)
    flow_id: str | None = Field(default=None, max_length=250)
    execution_id: str | None = Field(default=None, max_length=250)
    task_id: str | None = Field(default=None, max_length=250)
    state: list[StateType] | None = None
    start_date: str | None = Field(default=None, description=f"first day ({DATE_HELP}); default endDate - 29 days")
    end_date: str | None = Field(default=None, description=f"last day ({DATE_HELP}); default today")
    time_zone: str = Field(default="UTC", description="IANA time zone in which days begin and end")


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


@router.post("/stats/taskruns/daily", response_model=list[DailyStats], summary="Task runs per day")
def daily_stats(
    api: Annotated[Backends, Depends(backends)],
    body: Annotated[DailyStatsQuery | None, Body()] = None,
) -> list[dict[str, Any]]:
    body = body or DailyStatsQuery()
    zone = check_time_zone(body.time_zone)
    start = parse_when(body.start_date, "startDate", where="body")
    end = parse_when(body.end_date, "endDate", end=True, where="body")
    check_window(start, end, where="body")
    last = end.date() if end else datetime.now(UTC).date()
    first = start.date() if start else last - timedelta(days=29)
    if first > last:
        raise BadParameter("startDate", f"{first} is after the default endDate {last}", where="body")
    if (last - first).days >= MAX_DAYS:
        raise BadParameter("startDate", f"the window may span at most {MAX_DAYS} days", where="body")
    return _days(api, body, first, last, zone)


def _days(api: Backends, body: DailyStatsQuery, first: date, last: date, zone: str) -> list[dict[str, Any]]:
    return queries.daily_taskrun_stats(
        api.client,
        api.prefix,
        start=first,
        end=last,
        q=body.q or None,
        namespace=body.namespace or None,
        flow_id=body.flow_id or None,
        execution_id=body.execution_id or None,
        task_id=body.task_id or None,
        state=[s.value for s in body.state] if body.state else None,
        time_zone=zone,
    )
