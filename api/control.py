"""`POST /api/v1/executions/{executionId}/kill`, `.../restart`, `.../pause`, `.../resume`, `.../replay`,
`.../unqueue`, `.../state` and `.../change-status`: `conveyor kill|restart|pause|resume|replay|unqueue|change-state`
over HTTP.

Both go through `common.control`, as the CLI does: the execution is looked up on the `executions` topic (not
Elasticsearch, which may be behind), refused with 404 (unknown) or 409 (its state does not allow it), else
the request goes to `execution-events` and the answer is 202: the request is delivered, the executor and
workers carry it out afterwards. Kafka unreachable is a 503 (`api.errors`).

These routes must be registered before `POST /api/v1/executions/{namespace}/{flowId}` (start an execution),
whose pattern matches their paths too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from conveyor.api import start_body
from conveyor.api.backends import Backends, backends
from conveyor.api.errors import BadParameter, Conflict, NotFound, error_responses
from conveyor.api.identity import authenticated, may_read, require
from conveyor.common import control
from conveyor.common.auth import Role
from conveyor.common.base import Model
from conveyor.common.control import Action, BadRequest, Params, Refused, UnknownExecution
from conveyor.common.model import Execution
from conveyor.common.resume_files import ResumeFile
from conveyor.common.state import StateType

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])


class Requested(Model):
    """The request was delivered to the executor; follow the execution with `GET /api/v1/executions/{id}`."""

    execution_id: str
    namespace: str
    flow_id: str
    requested: Action
    state: StateType = Field(description="the state the execution was in when the request was sent")
    revision: int = Field(description="the revision of the execution's snapshot the request was made on")
    replay_id: str | None = Field(default=None, description="a replay: the id of the new execution")


_ERRORS = error_responses(
    401,
    403,
    404,
    409,
    422,
    429,
    503,
    _403="the runner role on the execution's namespace is required",
    _404="no execution with this id (or not yours to read)",
    _503="Kafka unreachable",
)

# The routes with a body answer 400 when it cannot be read, beside what every control route answers.
_BODY_ERRORS = {**error_responses(400, _400="the body is not JSON in UTF-8"), **_ERRORS}
_RESUME_ERRORS = {**error_responses(400, 413, _400="the body is neither a JSON object nor a form"), **_ERRORS}

_ROUTES = {
    Action.KILL: (
        "Kill a running execution",
        "The execution goes KILLING, its task runs not started yet become KILLED, workers stop the running "
        "attempts (a Sleep is interrupted, processes are killed) and report them KILLED; if no worker answers "
        "within 20 s the executor ends the kill itself. 409 when the execution has already ended.",
    ),
    Action.RESTART: (
        "Restart a FAILED or KILLED execution",
        "The execution goes RESTARTED then RUNNING: its failed or killed task runs get a new attempt (the old "
        "ones are kept), task runs that succeeded are kept, and the flow goes on from there. 409 when the "
        "execution is not FAILED or KILLED (it is still running, or it did not fail).",
    ),
}


_ROUTES[Action.PAUSE] = (
    "Pause a running execution",
    "The execution goes PAUSED: nothing new starts until it is resumed; attempts already running go on to "
    "their end. 409 when it is not RUNNING.",
)


_ROUTES[Action.UNQUEUE] = (
    "Unqueue a QUEUED execution",
    "The execution, queued by its flow's concurrency limit, starts at once (RUNNING), past the limit, and holds "
    "a slot until it ends (the reference's unqueue). 409 when it is not QUEUED. Many at once: "
    "`POST /api/v1/executions/unqueue/by-ids`, `.../unqueue/by-query`.",
)


# How long a kill request waits for the executor to apply it (or to say the execution ended first).
KILL_WAIT = 5.0


def _send(request: Request, api: Backends, action: Action, execution_id: str, params: Params, where: str) -> Requested:
    """Look up, authorize (the runner role on the execution's namespace; unreadable is unknown), send."""

    def allowed(execution: Execution) -> None:
        request.state.audit = {"namespace": execution.namespace, "flowId": execution.flow_id}
        if not may_read(request, execution.namespace):
            raise control.unknown(api.kafka, execution_id)
        require(request, Role.RUNNER, execution.namespace)

    try:
        found = control.request(api.kafka, api.producer, action, execution_id, allowed, params)
        if action == Action.KILL:  # a kill that came too late is answered as such, never dropped silently
            control.check_kill(found, control.outcome(api.kafka, found, timeout=KILL_WAIT))
    except UnknownExecution as exc:
        raise NotFound(exc.public) from exc
    except Refused as exc:
        raise Conflict(str(exc)) from exc
    except BadRequest as exc:
        raise BadParameter(exc.field, str(exc), where=where, status=422) from exc
    execution = found.execution
    return Requested(
        execution_id=execution.id,
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        requested=action,
        state=execution.state.current,
        revision=execution.revision,
        replay_id=found.replay_id,
    )


ExecutionId = Annotated[str, Path(alias="executionId", max_length=250)]
Api = Annotated[Backends, Depends(backends)]


def _endpoint(action: Action) -> Callable[..., Requested]:
    def endpoint(request: Request, execution_id: ExecutionId, api: Api) -> Requested:
        return _send(request, api, action, execution_id, Params(), "path")

    return endpoint


_COMMON = {
    "methods": ["POST"],
    "status_code": 202,
    "response_description": "the request is delivered; the executor carries it out next",
    "response_model": Requested,
    "responses": _ERRORS,
}


RESUME_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "the onResume inputs by id, as JSON values"},
                "example": {"approved": True},
            },
            start_body.MULTIPART: {
                "schema": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "format": "binary"},
                    "description": "the onResume inputs by id: text fields, and file parts for FILE inputs",
                }
            },
        },
    }
}


@router.api_route(
    "/executions/{executionId}/resume",
    summary="Resume a PAUSED execution",
    description="Every PAUSED Pause task run goes RUNNING again, with the body's `onResume` inputs (typed and "
    "checked like flow inputs; readable as `outputs.<pause>.onResume.<id>`), and the execution RUNNING. The body "
    "is a JSON object by input id, or a `multipart/form-data` form (as the reference takes it): text fields are "
    "inputs, and a file part for a FILE input is stored under the execution's prefix, the input's value being its "
    "`kestra:///…/executions/{id}/inputs/{input}/{file}` URI. 422 naming the input that does not fit (a missing "
    "required one, a file for an input that is not FILE); 413 past the server's body limit; 409 when the "
    "execution is not PAUSED.",
    name="resume_execution",
    openapi_extra=RESUME_BODY,
    **{**_COMMON, "responses": _RESUME_ERRORS},  # type: ignore[arg-type]
)
async def resume(request: Request, execution_id: ExecutionId, api: Api) -> Requested:
    uploads: dict[str, UploadFile] = {}
    if start_body.is_multipart(request):
        inputs, uploads = await start_body.form_parts(request)
    else:
        inputs = await start_body.json_inputs(request) or {}
    files = {name: ResumeFile(upload.filename or name, upload.file) for name, upload in uploads.items()}
    try:
        params = Params(inputs=inputs, files=files)
        return await run_in_threadpool(_send, request, api, Action.RESUME, execution_id, params, "body")
    finally:
        for upload in uploads.values():
            await upload.close()


@router.api_route(
    "/executions/{executionId}/replay",
    summary="Replay an ended execution from a task run",
    description="A new execution (`replayId`; `originalId` the replayed one, same inputs and flow revision): "
    "the task runs created before `taskRunId` are copied, and the flow runs again from it (without `taskRunId`: "
    "from the start). 404 for an unknown task run; 409 when the execution has not ended.",
    name="replay_execution",
    **_COMMON,  # type: ignore[arg-type]
)
def replay(
    request: Request,
    execution_id: ExecutionId,
    api: Api,
    task_run_id: Annotated[str | None, Query(alias="taskRunId", max_length=250)] = None,
) -> Requested:
    return _send(request, api, Action.REPLAY, execution_id, Params(task_run_id=task_run_id), "query")


class TaskRunState(Model):
    task_run_id: str = Field(max_length=250)
    state: str = Field(description="SUCCESS, WARNING or FAILED")


@router.api_route(
    "/executions/{executionId}/state",
    summary="Change the state of a task run",
    description="The task run goes SUCCESS, WARNING or FAILED (recorded in its histories) and the execution goes "
    "on from there (an ended one RESTARTED then RUNNING). 422 for another state; 404 for an unknown task run.",
    name="change_task_run_state",
    **{**_COMMON, "responses": _BODY_ERRORS},  # type: ignore[arg-type]
)
def change_task_run_state(request: Request, execution_id: ExecutionId, api: Api, body: TaskRunState) -> Requested:
    params = Params(task_run_id=body.task_run_id, state=body.state)
    return _send(request, api, Action.CHANGE_STATE, execution_id, params, "body")


@router.api_route(
    "/executions/{executionId}/change-status",
    summary="Change the state of an ended execution",
    description="The ended execution's state becomes `status` (SUCCESS, WARNING or FAILED), recorded in its "
    "histories. 422 for another state; 409 when the execution has not ended.",
    name="change_execution_status",
    **_COMMON,  # type: ignore[arg-type]
)
def change_status(
    request: Request, execution_id: ExecutionId, api: Api, status: Annotated[str, Query(max_length=20)]
) -> Requested:
    return _send(request, api, Action.CHANGE_STATE, execution_id, Params(state=status), "query")


for _action, (_summary, _description) in _ROUTES.items():
    router.add_api_route(
        f"/executions/{{executionId}}/{_action}",
        _endpoint(_action),
        methods=["POST"],
        status_code=202,
        response_description="the request is delivered; the executor carries it out next",
        response_model=Requested,
        summary=_summary,
        description=_description,
        responses=_ERRORS,
        name=f"{_action}_execution",
    )
