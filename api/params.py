"""The Task Runs filters as HTTP parameters, checked here so that a bad one is answered 400/422 by name.

Dates are ISO-8601: a date-time (a naive one is UTC) or a plain date, which as `startDate` means the start
of that day and as `endDate` its end (both bounds are inclusive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Query

from conveyor.api.errors import BadParameter
from conveyor.common.state import StateType
from conveyor.indexer.dsl import TASKRUN_SORTS, decode_cursor, parse_sort
from conveyor.indexer.errors import QueryError

DATE_HELP = "ISO-8601 date-time (UTC if no offset) or date"


def parse_when(value: str | None, parameter: str, *, end: bool = False, where: str = "query") -> datetime | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min, UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(parameter, f"expected {DATE_HELP}, got {value!r}", where=where, status=422) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_window(start: datetime | None, end: datetime | None, where: str = "query") -> None:
    if start is not None and end is not None and end < start:
        raise BadParameter("endDate", "must not be before startDate", where=where)


def check_sort(sort: str) -> str:
    try:
        parse_sort(sort, TASKRUN_SORTS)
    except QueryError as exc:
        raise BadParameter("sort", f"{exc} (use field:asc or field:desc)") from None
    return sort


def check_cursor(after: str | None) -> str | None:
    if after:
        try:
            decode_cursor(after)
        except QueryError:
            raise BadParameter("after", "not a cursor this API returned (use the `next` of a previous page)") from None
    return after


def check_time_zone(name: str, where: str = "body") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadParameter("timeZone", f"unknown time zone {name!r} (e.g. UTC, Europe/Paris)", where=where) from None
    return name


@dataclass(frozen=True)
class TaskRunFilters:
    q: str | None
    namespace: str | None
    flow_id: str | None
    execution_id: str | None
    task_id: str | None
    state: list[str] | None
    start: datetime | None
    end: datetime | None

    def query_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `queries.search_taskruns`."""
        return {
            "q": self.q,
            "namespace": self.namespace,
            "flow_id": self.flow_id,
            "execution_id": self.execution_id,
            "task_id": self.task_id,
            "state": self.state,
            "start": self.start,
            "end": self.end,
        }


def taskrun_filters(
    q: Annotated[
        str | None, Query(max_length=200, description="substring of an id, namespace, flow, task or value")
    ] = None,
    namespace: Annotated[str | None, Query(max_length=250, description="namespace and the namespaces under it")] = None,
    flow_id: Annotated[str | None, Query(alias="flowId", max_length=250)] = None,
    execution_id: Annotated[str | None, Query(alias="executionId", max_length=250)] = None,
    task_id: Annotated[str | None, Query(alias="taskId", max_length=250)] = None,
    state: Annotated[list[StateType] | None, Query(description="current state (repeatable: any of them)")] = None,
    start_date: Annotated[
        str | None, Query(alias="startDate", description=f"started at or after ({DATE_HELP})")
    ] = None,
    end_date: Annotated[str | None, Query(alias="endDate", description=f"started at or before ({DATE_HELP})")] = None,
) -> TaskRunFilters:
    """FastAPI dependency: the filters of a task-run search."""
    start = parse_when(start_date, "startDate")
    end = parse_when(end_date, "endDate", end=True)
    check_window(start, end)
    return TaskRunFilters(
        q=q or None,
        namespace=namespace or None,
        flow_id=flow_id or None,
        execution_id=execution_id or None,
        task_id=task_id or None,
        state=[s.value for s in state] if state else None,
        start=start,
        end=end,
    )
