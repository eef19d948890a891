"""`DELETE /api/v1/executions/{executionId}` and `DELETE /api/v1/executions/by-ids`: delete executions, as the
reference's routes of the same paths (`deleteLogs`, `deleteMetrics`, `deleteStorage`, all true by default;
the bulk one refuses executions still running unless `includeNonTerminated`).

The developer role on the execution's namespace is required (the reference's EXECUTION DELETE permission,
which its Developer role holds and a Launcher does not). An execution the caller may not read answers like an
unknown one (404). The answer comes once the execution is gone from the search: the Kafka part is
`common.deletion`'s, the Elasticsearch documents `indexer.purge`'s.

These routes must be registered before `DELETE /api/v1/executions/{executionId}/...` patterns and the bulk
one before the single one (whose pattern matches `by-ids` too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound, error_responses
from conveyor.api.identity import authenticated, may_read, require
from conveyor.common import control, deletion
from conveyor.common.auth import Role
from conveyor.common.base import Model
from conveyor.common.control import UnknownExecution
from conveyor.common.model import Execution
from conveyor.common.storage import default_storage
from conveyor.indexer import purge

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])

Api = Annotated[Backends, Depends(backends)]
ExecutionId = Annotated[str, Path(alias="executionId", min_length=1, max_length=250)]
DeleteLogs = Annotated[bool, Query(alias="deleteLogs", description="delete the execution's log lines")]
DeleteMetrics = Annotated[bool, Query(alias="deleteMetrics", description="delete the execution's metrics")]
DeleteStorage = Annotated[
    bool, Query(alias="deleteStorage", description="delete the execution's files in the internal storage")
]
NOT_FOUND = "execution not found"
# The most executions one bulk request deletes.
MAX_IDS = 100


class BulkDeleted(Model):
    count: int = Field(description="how many executions were deleted")


def _keep(logs: bool, metrics: bool, storage: bool) -> deletion.Keep:
    return deletion.Keep(logs=not logs, metrics=not metrics, storage=not storage)


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
    responses=error_responses(
        401, 403, 404, 409, 422, 503, _404="some executions are unknown (named)", _409="some are still running (named)"
    ),
)
async def delete_by_ids(
    request: Request,
    api: Api,
    ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=250)]], Body(max_length=MAX_IDS)],
    include_non_terminated: Annotated[
        bool, Query(alias="includeNonTerminated", description="delete executions still running too")
    ] = False,
    delete_logs: DeleteLogs = True,
    delete_metrics: DeleteMetrics = True,
    delete_storage: DeleteStorage = True,
) -> BulkDeleted:
    keep = _keep(delete_logs, delete_metrics, delete_storage)

    def run() -> BulkDeleted:
        invalid: list[dict[str, str]] = []
        wanted = list(dict.fromkeys(ids))
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
        return BulkDeleted(count=len(wanted))

    try:
        return await run_in_threadpool(run)
    except UnknownExecution as exc:  # deleted by someone else meanwhile
        raise NotFound(str(exc)) from exc


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
    delete_logs: DeleteLogs = True,
    delete_metrics: DeleteMetrics = True,
    delete_storage: DeleteStorage = True,
) -> Response:
    keep = _keep(delete_logs, delete_metrics, delete_storage)
    try:
        await run_in_threadpool(_delete, request, api, execution_id, keep)
    except UnknownExecution as exc:
        raise NotFound(str(exc)) from exc
    return Response(status_code=204)
