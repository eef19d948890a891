"""Executions: read one (Elasticsearch), read its logs (Elasticsearch), start one (the `execution-events` topic)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from conveyor.api import start_body
from conveyor.api.backends import Backends, backends
from conveyor.api.errors import BadParameter, NotFound, error_responses
from conveyor.api.identity import authenticated, may_read, readable, require
from conveyor.common import input_secrets
from conveyor.common.auth import Role
from conveyor.common.ids import derived_id, new_id
from conveyor.common.kafka import lookup
from conveyor.common.launch import new_execution
from conveyor.common.model import Execution
from conveyor.common.state import State
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer import queries
from conveyor.indexer.dsl import MAX_SIZE
from conveyor.indexer.filters import Paging, TaskRunFilters

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])

# Task runs listed with an execution; a bigger execution's task runs are paged through the search.
MAX_TASK_RUNS = 10_000


@router.get(
    "/executions/{executionId}",
    summary="An execution and its task runs",
    responses=error_responses(
        400, 401, 404, 422, 429, 503, _404="no such execution (not started, not indexed yet, or not yours to read)"
    ),
)
def get_execution(
    request: Request,
    execution_id: Annotated[str, Path(alias="executionId", max_length=250)],
    api: Annotated[Backends, Depends(backends)],
    task_runs: Annotated[
        bool,
        Query(
            alias="taskRuns",
            description="false: the execution alone, `taskRunList` empty (page its task runs with "
            "`/api/v1/taskruns/search?executionId=`)",
        ),
    ] = True,
) -> dict[str, Any]:
    """The indexed execution (the Execution JSON) with its `taskRunList` from the task runs index, in start order
    (at most 10,000: a bigger execution's task runs are paged with the task-run search)."""
    execution = queries.get_execution(api.client, api.prefix, execution_id)
    if execution is None or not may_read(request, str(execution.get("namespace", ""))):
        raise NotFound(f"execution {execution_id!r} not found (not started, or not indexed yet)")
    execution["taskRunList"] = _task_runs(api, execution_id) if task_runs else []
    return execution


def _task_runs(api: Backends, execution_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    filters = TaskRunFilters(execution_id=execution_id)
    paging = Paging(size=MAX_SIZE, sort="state.startDate:asc")
    while len(runs) < MAX_TASK_RUNS:
        page = queries.search_taskruns(api.client, api.prefix, filters, paging)
        runs.extend(page.results)
        if page.next is None:
            break
        paging = replace(paging, search_after=page.next)
    return runs


@router.get(
    "/logs/{executionId}",
    summary="The log lines of an execution, oldest first",
    responses=error_responses(400, 401, 403, 422, 429, 503),
)
def get_logs(
    request: Request,
    execution_id: Annotated[str, Path(alias="executionId", max_length=250)],
    api: Annotated[Backends, Depends(backends)],
    task_id: Annotated[str | None, Query(alias="taskId", max_length=250)] = None,
    task_run_id: Annotated[str | None, Query(alias="taskRunId", max_length=250)] = None,
    min_level: Annotated[LogLevel | None, Query(alias="minLevel", description="lowest level shown")] = None,
) -> list[dict[str, Any]]:
    return queries.search_logs(
        api.client,
        api.prefix,
        execution_id,
        task_id,
        task_run_id=task_run_id,
        min_level=min_level.value if min_level else None,
        allowed=readable(request),
    )


@router.post(
    "/executions/{namespace}/{flowId}",
    summary="Start an execution of a deployed flow",
    responses=error_responses(400, 401, 403, 404, 422, 429, 503, _404="the flow is not deployed"),
    openapi_extra=start_body.REQUEST_BODY,
)
async def start_execution(
    request: Request,
    namespace: Annotated[str, Path(max_length=250)],
    flow_id: Annotated[str, Path(alias="flowId", max_length=250)],
    api: Annotated[Backends, Depends(backends)],
    labels: Annotated[list[str] | None, Query(description="key:value (repeatable)")] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="the client's key of this start: the same key (for this flow) starts one execution, "
            "a repeat answers it again",
        ),
    ] = None,
) -> dict[str, Any]:
    """Publishes `ExecutionCreated` on `execution-events`; the execution then runs on the executor and
    workers. Answers the new execution (state CREATED): follow it with `GET /api/v1/executions/{id}`.
    With an `Idempotency-Key` the execution id is derived from (namespace, flowId, key): a start sent again
    (a response lost) makes no second execution and is answered the same body.

    The body is the inputs as one JSON object, or a `multipart/form-data` form: text fields are inputs, and
    a file part for a FILE input is stored in the internal storage, the input's value being its
    `kestra:///…/executions/{id}/inputs/{input}/{file}` URI."""
    require(request, Role.RUNNER, namespace)
    files: dict[str, UploadFile] = {}
    inputs: dict[str, Any] | None
    if start_body.is_multipart(request):
        inputs, files = await start_body.form_parts(request)
    else:
        inputs = await start_body.json_inputs(request)
    execution_id = derived_id("execution", namespace, flow_id, idempotency_key) if idempotency_key else None
    request.state.audit = {"executionId": execution_id}
    try:
        body = await run_in_threadpool(_start, api, namespace, flow_id, inputs, labels, execution_id, files)
    finally:
        for upload in files.values():
            await upload.close()
    request.state.audit = {"executionId": body["id"]}
    return body


def _start(
    api: Backends,
    namespace: str,
    flow_id: str,
    inputs: dict[str, Any] | None,
    labels: list[str] | None,
    execution_id: str | None,
    files: dict[str, UploadFile] | None = None,
) -> dict[str, Any]:
    fingerprint = _fingerprint({**(inputs or {}), **{k: f.filename for k, f in (files or {}).items()}}, labels)
    if execution_id is not None:
        repeat = _started_before(api, execution_id, fingerprint)
        if repeat is not None:
            return repeat
    found = api.catalog.get(namespace, flow_id)
    if found is None:
        raise NotFound(f"flow {namespace}.{flow_id} is not deployed (POST /api/v1/flows deploys it)")
    _, flow = found
    if flow.disabled:
        raise BadParameter("flowId", f"flow {namespace}.{flow_id} is disabled", where="path", status=422)
    if files:
        execution_id = execution_id or new_id()  # the uploads are stored under the execution's URI
        inputs = {**(inputs or {}), **start_body.store_uploads(flow, execution_id, files)}
    created = new_execution(  # InputError -> 422
        flow,
        inputs or {},
        labels=_labels(labels),
        execution_id=execution_id,
        # the same creation event: an executor that applied it already recognises it by its id
        event_id=derived_id("created", execution_id) if execution_id else None,
    )
    api.producer.send(api.topics.execution_events, created.execution_id, created.to_json())
    api.producer.flush(10.0)
    body = input_secrets.mask_execution(created.execution.to_dict())
    if execution_id is not None:
        api.remember_start(execution_id, fingerprint, body)
    return body


def _started_before(api: Backends, execution_id: str, fingerprint: str) -> dict[str, Any] | None:
    """The answer given to the first start with this key: remembered by this server, else rebuilt from the
    execution's header on the `executions` topic (started through another server, or before a restart)."""
    remembered = api.started(execution_id)
    if remembered is not None:
        first, body = remembered
        if first != fingerprint:
            raise BadParameter(
                "Idempotency-Key", "already used for a start with other inputs or labels", where="header", status=422
            )
        return body
    # The executor writes an execution's header to its events' partition: the default partition of its id.
    record = lookup.latest(api.kafka, api.topics.executions, execution_id, everywhere=False)
    if record is None:
        return None
    body = _as_created(Execution.model_validate_json(record.value))
    api.remember_start(execution_id, fingerprint, body)
    return body


def _as_created(execution: Execution) -> dict[str, Any]:
    """The execution as its creation answered it: its first state (CREATED), no outputs, no revision."""
    first = execution.state.histories[:1]
    created = execution.model_copy(
        update={
            "state": State(current=first[0].state, histories=first) if first else execution.state,
            "outputs": None,
            "revision": 0,
            "task_run_count": 0,
            "task_run_list": [],
        }
    )
    return created.to_dict()


def _fingerprint(inputs: dict[str, Any] | None, labels: list[str] | None) -> str:
    raw = json.dumps([inputs or {}, sorted(labels or [])], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _labels(pairs: list[str] | None) -> dict[str, str]:
    labels = {}
    for pair in pairs or []:
        key, sep, value = pair.partition(":")
        if not sep or not key:
            raise BadParameter("labels", f"expected key:value, got {pair!r}")
        labels[key] = value
    return labels
