"""`DELETE /api/v1/executions/{executionId}`, `DELETE /api/v1/executions/by-ids` and
`DELETE /api/v1/executions/by-query`: delete executions, as the reference's routes of the same paths
(`deleteLogs`, `deleteMetrics`, `deleteStorage`, all true by default; the bulk ones refuse executions still
running unless `includeNonTerminated`). A deletion by query takes the search's filters, deletes at most
`MAX_IDS` executions per request (the oldest first) and says how many are left: call it again for the rest.

The developer role on the execution's namespace is required (the reference's EXECUTION DELETE permission,
which its Developer role holds and a Launcher does not). An execution the caller may not read answers like an
unknown one (404). The answer comes once the execution is gone from the search: the Kafka part is
`common.deletion`'s, the Elasticsearch documents `indexer.purge`'s.

These routes must be registered before `DELETE /api/v1/executions/{executionId}/...` patterns and the bulk
ones before the single one (whose pattern matches `by-ids` and `by-query` too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound, by_ids_responses, error_responses
from conveyor.api.execution_search import ExecutionFilterParams
from conveyor.api.identity import authenticated, may_read, readable, require
from conveyor.common import control, deletion
from conveyor.common.auth import Role
from conveyor.common.base import Model
from conveyor.common.control import UnknownExecution
from conveyor.common.model import Execution
from conveyor.common.storage import default_storage
from conveyor.indexer import purge, queries
from conveyor.indexer.filters import ExecutionFilters, Paging, not_ended

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])

Api = Annotated[Backends, Depends(backends)]
ExecutionId = Annotated[str, Path(alias="executionId", min_length=1, max_length=250)]
DeleteLogs = Annotated[bool, Query(alias="deleteLogs", description="delete the execution's log lines")]
DeleteMetrics = Annotated[bool, Query(alias="deleteMetrics", description="delete the execution's metrics")]
DeleteStorage = Annotated[
    bool, Query(alias="deleteStorage", description="delete the execution's files in the internal storage")
]
IncludeNonTerminated = Annotated[
    bool, Query(alias="includeNonTerminated", description="delete executions still running too")
]
NOT_FOUND = "execution not found"
# The most executions one bulk request deletes (by ids, or by query: the rest are left for the next request).
MAX_IDS = 100
QUERY_BOUND = MAX_IDS


class BulkDeleted(Model):
    count: int = Field(description="how many executions were deleted")


class QueryDeleted(BulkDeleted):
    remaining: int = Field(description="how many matching executions are left (past the bound of one request)")


def _keep(
    delete_logs: DeleteLogs = True, delete_metrics: DeleteMetrics = True, delete_storage: DeleteStorage = True
) -> deletion.Keep:
    """What a deletion keeps, from the flags every delete route takes (`deleteLogs`, `deleteMetrics`,
    `deleteStorage`, all true by default)."""
    return deletion.Keep(logs=not delete_logs, metrics=not delete_metrics, storage=not delete_storage)


Keep = Annotated[deletion.Keep, Depends(_keep)]


def _authorize(request: Request, api: Backends, execution_id: str) -> Callable[[Execution], None]:
    def allowed(execution: Execution) -> None:
        request.state.audit = {"namespace": execution.namespace, "flowId": execution.flow_id}
        if not may_read(request, execution.namespace):
            raise control.unknown(api.kafka, execution_id)
        require(request, Role.DEVELOPER, execution.namespace)

    return allowed


def _delete(request: Request, api: Backends, execution_id: str, keep: deletion.Keep) -> Execution:
    done = deletion.delete(
        api.kafka,
        api.producer,
        execution_id,
        keep=keep,
        storage=default_storage(),
        authorize=_authorize(request, api, execution_id),
    )
    purge.delete_documents(api.client, api.prefix, [execution_id], logs=not keep.logs, metrics=not keep.metrics)
    return done.execution


@router.delete(
    "/executions/by-ids",
    summary="Delete a list of executions",
    description="Deletes each execution of the body's list, as `DELETE /api/v1/executions/{executionId}` does. "
    "Nothing is deleted when one of them is unknown or not readable (404), or still running without "
    "`includeNonTerminated` (409); `errors` names each. 403 when the developer role is missing on one's "
    "namespace.",
    response_model=BulkDeleted,
    responses=by_ids_responses("some are still running (named)"),
)
async def delete_by_ids(
    request: Request,
    api: Api,
    ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=250)]], Body(max_length=MAX_IDS)],
    keep: Keep,
    include_non_terminated: IncludeNonTerminated = False,
) -> BulkDeleted:
    count = await _in_thread(_delete_all, request, api, list(dict.fromkeys(ids)), include_non_terminated, keep)
    return BulkDeleted(count=count)


T = TypeVar("T")


async def _in_thread(call: Callable[..., T], *args: object) -> T:
    """`call(*args)` in the thread pool; an execution deleted by someone else meanwhile is a 404."""
    try:
        return await run_in_threadpool(call, *args)
    except UnknownExecution as exc:  # deleted by someone else meanwhile
        raise NotFound(exc.public) from exc


def _delete_all(
    request: Request, api: Backends, wanted: list[str], include_non_terminated: bool, keep: deletion.Keep
) -> int:
    """Every one of `wanted`, or none: 404 when one is unknown (or not readable), 409 when one still runs."""
    invalid: list[dict[str, str]] = []
    for execution_id in wanted:
        try:
            found = control.latest_execution(api.kafka, execution_id).execution
        except UnknownExecution:
            found = None
        if found is None or not may_read(request, found.namespace):
            invalid.append({"executionId": execution_id, "message": NOT_FOUND})
            continue
        require(request, Role.DEVELOPER, found.namespace)
        if not found.state.terminal and not include_non_terminated:
            message = f"execution is {found.state.current.value}: not ended (includeNonTerminated=true deletes it)"
            invalid.append({"executionId": execution_id, "message": message})
    if invalid:  # 404 when one is unknown, else 409 (one still running)
        status = 404 if any(i["message"] == NOT_FOUND for i in invalid) else 409
        raise ApiError(status, "invalid bulk delete: " + ", ".join(i["executionId"] for i in invalid), invalid)
    for execution_id in wanted:
        _delete(request, api, execution_id, keep)
    return len(wanted)


@router.delete(
    "/executions/by-query",
    summary="Delete executions filtered by query parameters",
    description="Deletes the executions the filters of `GET /api/v1/executions/search` match (no filter: "
    "every one, as the reference), as `DELETE /api/v1/executions/by-ids` does: at most 100 per request, the oldest "
    "first; `remaining` says how many more match (call again). Only executions of namespaces where the caller "
    "holds the developer role are matched (403 when `namespace` is one where it does not). Nothing is deleted "
    "when a matching execution is still running, unless `includeNonTerminated` (409, naming them).",
    response_model=QueryDeleted,
    responses=error_responses(400, 401, 403, 409, 422, 503, _409="some matching executions are still running"),
)
async def delete_by_query(
    request: Request,
    api: Api,
    params: Annotated[ExecutionFilterParams, Query()],
    keep: Keep,
    include_non_terminated: IncludeNonTerminated = False,
) -> QueryDeleted:
    filters = params.filters()
    if filters.namespace:
        require(request, Role.DEVELOPER, filters.namespace)
    filters = replace(filters, allowed=readable(request, Role.DEVELOPER))

    def run() -> QueryDeleted:
        if not include_non_terminated:
            _refuse_running(api, filters)
        found = queries.search_executions(api.client, api.prefix, filters, Paging(size=QUERY_BOUND, sort=OLDEST_FIRST))
        ids = [str(doc["id"]) for doc in found.results]
        count = _delete_all(request, api, ids, include_non_terminated, keep)
        return QueryDeleted(count=count, remaining=max(found.total - count, 0))

    return await _in_thread(run)


OLDEST_FIRST = "state.startDate:asc"
RUNNING_SHOWN = 20


def _refuse_running(api: Backends, filters: ExecutionFilters) -> None:
    """409 naming the matching executions that have not ended (as the index knows them)."""
    running = not_ended(filters)
    if running is None:
        return
    found = queries.search_executions(api.client, api.prefix, running, Paging(size=RUNNING_SHOWN))
    if found.total:
        invalid = [
            {"executionId": str(doc["id"]), "message": f"execution is {doc.get('state', {}).get('current')}: not ended"}
            for doc in found.results
        ]
        raise ApiError(
            409,
            f"invalid bulk delete: {found.total} matching execution(s) not ended "
            "(includeNonTerminated=true deletes them too): " + ", ".join(i["executionId"] for i in invalid),
            invalid,
        )


@router.delete(
    "/executions/{executionId}",
    status_code=204,
    summary="Delete an execution",
    description="Deletes the execution and its task runs (from the search, and from Kafka so that no restart "
    "or replay finds it), and, unless told otherwise, its log lines, metrics and files in the internal "
    "storage. An execution still running or paused is deleted too: its running attempts are killed and the "
    "executor forgets it. Child executions (Subflow, ForEachItem) are kept, as the reference does.",
    response_description="deleted",
    responses=error_responses(
        401,
        403,
        404,
        422,
        503,
        _403="the developer role on the execution's namespace is required",
        _404="no execution with this id (or not yours to read)",
    ),
)
async def delete_execution(
    request: Request,
    execution_id: ExecutionId,
    api: Api,
    keep: Keep,
) -> Response:
    await _in_thread(_delete, request, api, execution_id, keep)
    return Response(status_code=204)
