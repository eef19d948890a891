"""`GET /api/v1/logs/search`: the log lines of every execution, searched by namespace (and those under it),
flow, execution, task, lowest level, the words of the message and a time window; newest first, paged on with
a cursor. The Logs page reads it.

Registered before `executions`, whose `GET /logs/{executionId}` would take `search` for an id. Like the other
searches it reads only what the caller may read: the readable namespace prefixes go into the query (a viewer
of `team.a` searching `team.b` finds nothing), and a caller with no role anywhere is refused 403.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import BadParameter, error_responses
from conveyor.api.identity import authenticated, readable
from conveyor.api.params import DATE_HELP, DATE_SCHEMA, check_window, parse_when
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer import queries
from conveyor.indexer.dsl import LOG_TOTAL_LIMIT, MAX_SIZE, decode_cursor
from conveyor.indexer.errors import QueryError
from conveyor.indexer.filters import LogFilters

router = APIRouter(prefix="/api/v1", tags=["logs"], dependencies=[Depends(authenticated)])


class LogSearchParams(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)

    namespace: str | None = Field(default=None, max_length=250, description="namespace and the namespaces under it")
    flow_id: str | None = Field(default=None, max_length=250)
    execution_id: str | None = Field(default=None, max_length=250)
    task_id: str | None = Field(default=None, max_length=250)
    min_level: LogLevel | None = Field(default=None, description="this level and the more severe ones")
    q: str | None = Field(default=None, max_length=200, description="words of the message (every one)")
    start_date: str | None = Field(
        default=None, description=f"logged at or after ({DATE_HELP})", json_schema_extra=DATE_SCHEMA
    )
    end_date: str | None = Field(
        default=None, description=f"logged at or before ({DATE_HELP})", json_schema_extra=DATE_SCHEMA
    )
    size: int = Field(default=100, ge=1, le=MAX_SIZE)
    sort: Literal["timestamp:desc", "timestamp:asc"] = "timestamp:desc"
    after: str | None = Field(
        default=None,
        max_length=2000,
        description="the `next` cursor of the previous page",
        json_schema_extra={"format": "conveyor-log-cursor"},
    )

    def filters(self, allowed: tuple[str, ...] | None) -> LogFilters:
        start = parse_when(self.start_date, "startDate")
        end = parse_when(self.end_date, "endDate", end=True)
        check_window(start, end)
        return LogFilters(
            namespace=self.namespace or None,
            flow_id=self.flow_id or None,
            execution_id=self.execution_id or None,
            task_id=self.task_id or None,
            min_level=self.min_level.value if self.min_level else None,
            q=self.q.strip() if self.q and self.q.strip() else None,
            start=start,
            end=end,
            allowed=allowed,
        )


def check_log_cursor(after: str | None) -> str | None:
    """A cursor of this search: the timestamp (epoch ms), partition and offset of a page's last line."""
    if not after:
        return None
    try:
        values = decode_cursor(after)
    except QueryError:
        values = []
    if len(values) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise BadParameter("after", "not a cursor of this search (use the `next` of a previous page)")
    return after


class LogPage(BaseModel):
    results: list[dict[str, Any]] = Field(description="LogEntry documents")
    total: int = Field(description=f"lines matching, counted up to {LOG_TOTAL_LIMIT}")
    total_exact: bool = Field(
        alias="totalExact", description=f"false when more than {LOG_TOTAL_LIMIT} lines match (total is a floor)"
    )
    next: str | None = Field(description="cursor of the next page (pass it as `after`), null on the last page")


@router.get(
    "/logs/search",
    response_model=LogPage,
    response_model_by_alias=True,
    summary="Search the log lines of every execution",
    responses=error_responses(400, 401, 403, 422, 429, 503),
)
def search_logs(
    request: Request,
    params: Annotated[LogSearchParams, Query()],
    api: Annotated[Backends, Depends(backends)],
) -> LogPage:
    filters = params.filters(readable(request))
    found = queries.search_log_page(
        api.client, api.prefix, filters, size=params.size, sort=params.sort, after=check_log_cursor(params.after)
    )
    return LogPage(results=found.results, total=found.total, totalExact=found.exact, next=found.next)
