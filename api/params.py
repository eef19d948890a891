"""The Task Runs filters and pages as HTTP parameters, checked here so that a bad one is answered 400/422 by
name, and turned into the indexer's `TaskRunFilters` and `Paging`.

Dates are ISO-8601: a date-time (a naive one is UTC) or a plain date, which as `startDate` means the start
of that day and as `endDate` its end (both bounds are inclusive).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from conveyor.api.errors import BadParameter
from conveyor.common.state import StateType
from conveyor.indexer.dsl import EXECUTION_SORTS, MAX_SIZE, MAX_WINDOW, TASKRUN_SORTS, decode_cursor, parse_sort
from conveyor.indexer.errors import QueryError
from conveyor.indexer.filters import DEFAULT_SIZE, DEFAULT_SORT, Paging, TaskRunFilters, When

DATE_HELP = "ISO-8601 date-time (UTC if no offset) or date"


# What the OpenAPI document says of `sort`: one sortable field (besides `id`, always the tiebreaker) and
# its order. The server accepts more (several fields, `id`), answered 400 by name when wrong.
def sort_pattern(fields: Mapping[str, str]) -> str:
    return "^((" + "|".join(re.escape(f) for f in sorted(fields) if f != "id") + "):(asc|desc))?$"


SORT_PATTERN = sort_pattern(TASKRUN_SORTS)
# What it says of `startDate` and `endDate`: a date-time, a date, or empty (no bound).
DATE_SCHEMA: JsonDict = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
        {"type": "string", "maxLength": 0},
        {"type": "null"},
    ]
}
# And of `timeZone`: the IANA region names this machine knows (Elasticsearch refuses aliases like
# `localtime` or `posixrules`); the server accepts exactly these.
# Zones newer than the tzdata of Elasticsearch's JDK (8.17 ships 2024b) are left out: it refuses them.
NEWER_THAN_ELASTICSEARCH = frozenset({"America/Coyhaique"})  # tzdata 2025b
_TIME_ZONE_NAMES = sorted(
    z
    for z in available_timezones()
    if ("/" in z or z == "UTC")
    and not z.startswith(("posix/", "right/", "SystemV/"))
    and z not in NEWER_THAN_ELASTICSEARCH
)
TIME_ZONES: list[JsonValue] = list(_TIME_ZONE_NAMES)
_TIME_ZONE_SET = frozenset(_TIME_ZONE_NAMES)


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


def check_sort(sort: str, fields: Mapping[str, str] = TASKRUN_SORTS) -> str:
    try:
        parse_sort(sort, fields)
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
    if name not in _TIME_ZONE_SET:
        raise BadParameter("timeZone", f"{name!r} is not a region time zone (e.g. UTC, Europe/Paris)", where=where)
    return name


LABEL_PATTERN = r"^\s*[^\s:][^:]*:"
LABELS_FIELD = list[Annotated[str, StringConstraints(pattern=LABEL_PATTERN, max_length=500)]] | None


def label_pairs(pairs: list[str] | None) -> dict[str, str] | None:
    """`["env:prod", "team:a"]` -> `{"env": "prod", "team": "a"}`; `key:` is the empty value."""
    labels = {}
    for pair in pairs or []:
        key, sep, value = pair.partition(":")
        if not sep or not key.strip():
            raise BadParameter("labels", f"expected key:value, got {pair!r}")
        labels[key.strip()] = value.strip()
    return labels or None


class TaskRunFilterParams(BaseModel):
    """The task-run filters as HTTP parameters: the search's query string, the daily statistics' JSON body."""

    model_config = ConfigDict(alias_generator=to_camel)

    q: str | None = Field(
        default=None, max_length=200, description="substring of an id, namespace, flow, task or value"
    )
    namespace: str | None = Field(default=None, max_length=250, description="namespace and the namespaces under it")
    flow_id: str | None = Field(default=None, max_length=250)
    execution_id: str | None = Field(default=None, max_length=250)
    task_id: str | None = Field(default=None, max_length=250)
    trigger_id: str | None = Field(
        default=None, max_length=250, description="task runs of the executions started by the trigger of this id"
    )
    trigger_execution_id: str | None = Field(
        default=None, max_length=250, description="task runs of the children (Subflow, ForEachItem) of this execution"
    )
    state: list[StateType] | None = Field(default=None, description="current state (repeatable: any of them)")
    labels: LABELS_FIELD = Field(
        default=None, description="key:value, every one on the task run's execution (repeatable)", max_length=20
    )
    start_date: str | None = Field(
        default=None, description=f"started at or after ({DATE_HELP})", json_schema_extra=DATE_SCHEMA
    )
    end_date: str | None = Field(
        default=None, description=f"started at or before ({DATE_HELP})", json_schema_extra=DATE_SCHEMA
    )

    def window(self, where: str = "query") -> tuple[datetime | None, datetime | None]:
        """`startDate` and `endDate` parsed (a plain `endDate` is the end of its day) and checked in order."""
        start = parse_when(self.start_date, "startDate", where=where)
        end = parse_when(self.end_date, "endDate", end=True, where=where)
        check_window(start, end, where)
        return start, end

    def filters(self, start: When | None, end: When | None) -> TaskRunFilters:
        """The filters over the window from `start` to `end`; an empty parameter filters nothing."""
        return TaskRunFilters(
            q=self.q or None,
            namespace=self.namespace or None,
            flow_id=self.flow_id or None,
            execution_id=self.execution_id or None,
            task_id=self.task_id or None,
            trigger_id=self.trigger_id or None,
            trigger_execution_id=self.trigger_execution_id or None,
            state=[s.value for s in self.state] if self.state else None,
            labels=label_pairs(self.labels),
            start=start,
            end=end,
        )


def taskrun_filters(params: Annotated[TaskRunFilterParams, Query()]) -> TaskRunFilters:
    """FastAPI dependency: the filters of a task-run search."""
    return params.filters(*params.window())


class PageParams(BaseModel):
    """A page of a search as HTTP parameters: numbered (`page`), or on from a cursor (`after`)."""

    page: int = Field(default=1, ge=1, description=f"1-based page number, within the first {MAX_WINDOW} hits")
    size: int = Field(default=DEFAULT_SIZE, ge=1, le=MAX_SIZE)
    sort: str = Field(
        default=DEFAULT_SORT,
        max_length=200,
        description="field:asc|desc, e.g. state.startDate:desc, taskId:asc (comma-separated: several fields)",
        json_schema_extra={"pattern": SORT_PATTERN},
    )
    after: str | None = Field(
        default=None,
        max_length=2000,
        description="the `next` cursor of the previous page (overrides `page`)",
        json_schema_extra={"format": "conveyor-page-cursor"},
    )

    SORTS: ClassVar[Mapping[str, str]] = TASKRUN_SORTS

    def paging(self) -> Paging:
        """The checked page; bad `sort`, then `after`, then `page` are answered 400 by name."""
        check_sort(self.sort, self.SORTS)
        check_cursor(self.after)
        offset = 0 if self.after else (self.page - 1) * self.size
        if offset + self.size >= MAX_WINDOW:
            raise BadParameter("page", f"page x size must stay under {MAX_WINDOW}; page on with the `next` cursor")
        return Paging(size=self.size, sort=self.sort, search_after=self.after, offset=offset)


class ExecutionPageParams(PageParams):
    """A page of an execution search: the same paging, sorted by the execution documents' fields."""

    SORTS: ClassVar[Mapping[str, str]] = EXECUTION_SORTS
    sort: str = Field(
        default=DEFAULT_SORT,
        max_length=200,
        description="field:asc|desc, e.g. state.startDate:desc, flowId:asc (comma-separated: several fields)",
        json_schema_extra={"pattern": sort_pattern(EXECUTION_SORTS)},
    )
