"""`POST /api/v1/executions/unqueue/by-ids` and `POST /api/v1/executions/unqueue/by-query`: start QUEUED
executions at once, past their flow's concurrency limit, as the reference's routes of the same paths
(`common.unqueue`; one execution: `POST /api/v1/executions/{executionId}/unqueue`, in `api.control`).

The runner role on each execution's namespace is required (as a kill); an execution the caller may not read
answers like an unknown one. By ids it is all or nothing: 404 when one is unknown, else 409 when one is not
QUEUED, naming each (`errors`). By query: the QUEUED executions the search's filters match (a `state` filter
is replaced by QUEUED), at most 100 per request, the oldest first; one that the index still shows QUEUED but
has started meanwhile is skipped (`skipped`), and `remaining` says how many more match.

These routes must be registered before `POST /api/v1/executions/{namespace}/{flowId}` (start an execution),
whose pattern matches their paths too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, by_ids_responses, error_responses
from conveyor.api.execution_search import ExecutionFilterParams
from conveyor.api.identity import authenticated, may_read, readable, require
from conveyor.common import control, unqueue
from conveyor.common.auth import Role
from conveyor.common.base import Model
from conveyor.common.model import Execution
from conveyor.common.state import StateType
from conveyor.indexer import queries
from conveyor.indexer.filters import Paging

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])

Api = Annotated[Backends, Depends(backends)]
# The most executions one request unqueues (by ids, or by query: the rest are left for the next request).
MAX_IDS = 100


class BulkUnqueued(Model):
    count: int = Field(description="how many executions were unqueued (their requests delivered)")


class QueryUnqueued(BulkUnqueued):
    skipped: int = Field(description="matched as QUEUED by the search, but started or ended meanwhile")
    remaining: int = Field(description="how many matching QUEUED executions are left (past the bound of one request)")


def _authorize(request: Request, api: Backends) -> Callable[[Execution], None]:
    def allowed(execution: Execution) -> None:
        request.state.audit = {"namespace": execution.namespace, "flowId": execution.flow_id}
        if not may_read(request, execution.namespace):
            raise control.unknown(api.kafka, execution.id)
        require(request, Role.RUNNER, execution.namespace)

    return allowed


def _unqueue_ids(request: Request, api: Backends, ids: list[str]) -> int:
    found, invalid = unqueue.check(api.kafka, ids, _authorize(request, api))
    if invalid:
        status = 404 if any(i.unknown for i in invalid) else 409
        errors = [{"executionId": i.execution_id, "message": i.message} for i in invalid]
        raise ApiError(status, "invalid bulk unqueue: " + ", ".join(i.execution_id for i in invalid), errors)
    return unqueue.send(api.kafka, api.producer, found)


@router.post(
    "/executions/unqueue/by-ids",
    summary="Unqueue a list of executions",
    description="Each QUEUED execution of the body's list starts at once (RUNNING), past its flow's concurrency "
    "limit, and holds a slot until it ends, as `POST /api/v1/executions/{executionId}/unqueue` does. Nothing is "
    "sent when one is unknown or not readable (404) or not QUEUED (409); `errors` names each. 403 when the "
    "runner role is missing on one's namespace.",
    response_model=BulkUnqueued,
    status_code=202,
    responses=by_ids_responses("some are not QUEUED (named)"),
)
async def unqueue_by_ids(
    request: Request,
    api: Api,
    ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=250)]], Body(max_length=MAX_IDS)],
) -> BulkUnqueued:
    return BulkUnqueued(count=await run_in_threadpool(_unqueue_ids, request, api, ids))


@router.post(
    "/executions/unqueue/by-query",
    summary="Unqueue the QUEUED executions the filters match",
    description="The QUEUED executions the filters of `GET /api/v1/executions/search` match (a `state` filter is "
    "replaced by QUEUED) start at once, past their flows' concurrency limits: at most 100 per request, the "
    "oldest first; `remaining` says how many more match (call again), `skipped` how many had left QUEUED "
    "since the index saw them. Only executions of namespaces where the caller holds the runner role are "
    "matched (403 when `namespace` is one where it does not).",
    response_model=QueryUnqueued,
    status_code=202,
    responses=error_responses(400, 401, 403, 422, 503),
)
async def unqueue_by_query(
    request: Request, api: Api, params: Annotated[ExecutionFilterParams, Query()]
) -> QueryUnqueued:
    filters = params.filters()
    if filters.namespace:
        require(request, Role.RUNNER, filters.namespace)
    filters = replace(filters, state=[StateType.QUEUED.value], allowed=readable(request, Role.RUNNER))

    def run() -> QueryUnqueued:
        page = Paging(size=MAX_IDS, sort="state.startDate:asc")
        matched = queries.search_executions(api.client, api.prefix, filters, page)
        ids = [str(doc["id"]) for doc in matched.results]
        found, invalid = unqueue.check(api.kafka, ids, _authorize(request, api))
        count = unqueue.send(api.kafka, api.producer, found)
        return QueryUnqueued(count=count, skipped=len(invalid), remaining=max(matched.total - len(ids), 0))

    return await run_in_threadpool(run)
