"""One execution's task runs for its page: `/api/v1/executions/{id}/taskruns` (a page at any position of the
start order, so that the Gantt's deep jump reads one page, not every page before it) and
`/api/v1/executions/{id}/taskruns/counts` (task runs per task id and state, so that the topology of an
execution of a million task runs is coloured from all of them). Both answer 404 for an execution the caller
may not read, as `GET /api/v1/executions/{id}` does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound, error_responses
from conveyor.api.identity import authenticated, require
from conveyor.common.auth import Role
from conveyor.indexer import execution_taskruns, queries
from conveyor.indexer.dsl import MAX_SIZE

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])

F = TypeVar("F", bound=Callable[..., Any])
ExecutionId = Annotated[str, Path(alias="executionId", max_length=250)]


class PositionPage(BaseModel):
    results: list[dict[str, Any]] = Field(description="task-run documents, in start order")
    total: int = Field(description="the execution's task runs")
    offset: int = Field(description="the position of the first result (the one asked, unless unreachable)")
    next: str | None = Field(description="`after` cursor of `/api/v1/taskruns/search` for the next page")


class TaskRunCounts(BaseModel):
    total: int = Field(description="the execution's task runs")
    tasks: dict[str, dict[str, int]] = Field(description="task id -> state -> task runs")


def readable_execution(
    request: Request, execution_id: ExecutionId, api: Annotated[Backends, Depends(backends)]
) -> Backends:
    """The backends, once the caller may read the execution: 404 otherwise, as for an unknown one (a 403
    would tell that it exists)."""
    execution = queries.get_execution(api.client, api.prefix, execution_id)
    missing = NotFound(f"execution {execution_id!r} not found (not started, or not indexed yet)")
    if execution is None:
        raise missing
    try:
        require(request, Role.VIEWER, str(execution.get("namespace", "")))
    except ApiError as refused:
        if refused.status == 403:
            raise missing from refused
        raise
    return api


Readable = Annotated[Backends, Depends(readable_execution)]


def _get(path: str, model: type[BaseModel], summary: str) -> Callable[[F], F]:
    not_found = "no such execution (not started, not indexed yet, or not yours to read)"
    responses = error_responses(400, 401, 404, 422, 429, 503, _404=not_found)
    return router.get(path, response_model=model, summary=summary, responses=responses)


@_get(
    "/executions/{executionId}/taskruns",
    PositionPage,
    "A page of an execution's task runs at a position of their start order",
)
def taskruns_at(
    execution_id: ExecutionId,
    api: Readable,
    offset: Annotated[int, Query(ge=0, le=100_000_000, description="0-based position in start order")] = 0,
    size: Annotated[int, Query(ge=1, le=MAX_SIZE)] = 100,
) -> PositionPage:
    found = execution_taskruns.page_at(api.client, api.prefix, execution_id, offset, size)
    return PositionPage(results=found.results, total=found.total, offset=found.offset, next=found.next)


@_get(
    "/executions/{executionId}/taskruns/counts", TaskRunCounts, "How many task runs an execution has, by task and state"
)
def taskrun_counts(execution_id: ExecutionId, api: Readable) -> TaskRunCounts:
    total, tasks = execution_taskruns.counts_by_task(api.client, api.prefix, execution_id)
    return TaskRunCounts(total=total, tasks=tasks)
