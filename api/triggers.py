"""`GET /api/v1/triggers` and `POST /api/v1/triggers/{namespace}/{flowId}/{triggerId}/enable|disable|backfill`:
`conveyor triggers` over HTTP, through `common.triggers.admin` as the CLI does.

A trigger that no deployed flow declares is a 404; a request that cannot apply to it (a backfill of a
Webhook, an end before the start) a 422 naming the field; Kafka unreachable a 503. An accepted request is
a 202: the scheduler that owns the trigger applies it within a poll."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound, error_responses
from conveyor.api.identity import authenticated, may_read, require
from conveyor.common.auth import Role
from conveyor.common.base import Model
from conveyor.common.triggers import admin
from conveyor.common.triggers.admin import BadRequest, TriggerRow, UnknownTrigger
from conveyor.common.triggers.state import Action

router = APIRouter(prefix="/api/v1", tags=["triggers"], dependencies=[Depends(authenticated)])

# Enabling or disabling a trigger changes what a flow does (developer); a backfill starts executions (runner).
ROLES = {Action.ENABLE: Role.DEVELOPER, Action.DISABLE: Role.DEVELOPER, Action.BACKFILL: Role.RUNNER}


class TriggerRequested(Model):
    """The request is on `trigger-control`; the owning scheduler applies it next."""

    request_id: str
    namespace: str
    flow_id: str
    trigger_id: str
    action: Action


class BackfillBody(Model):
    start: datetime
    end: datetime | None = None


@router.get(
    "/triggers",
    summary="The triggers of the deployed flows, with their state and next date",
    responses=error_responses(401, 403, 422, 429, 503),
)
async def list_triggers(
    request: Request,
    api: Annotated[Backends, Depends(backends)],
    namespace: Annotated[str | None, Query(max_length=250, description="namespace and those under it")] = None,
) -> list[TriggerRow]:
    rows = await run_in_threadpool(admin.list_triggers, api.kafka, namespace)
    return [row for row in rows if may_read(request, row.namespace)]


_ERRORS = error_responses(
    401, 403, 404, 422, 429, 503, _404="no deployed flow declares this trigger (or it is not yours to read)"
)


def _send(
    request: Request, api: Backends, target: tuple[str, str, str], action: Action, body: BackfillBody | None
) -> TriggerRequested:
    namespace, flow_id, trigger_id = target
    request.state.audit = {"namespace": namespace, "flowId": flow_id}
    if not may_read(request, namespace):
        raise NotFound(f"no deployed flow {namespace}.{flow_id} declares a trigger {trigger_id}")
    require(request, ROLES[action], namespace)
    dates = {"start": body.start, "end": body.end} if body is not None else {}
    try:
        sent = admin.request(api.kafka, api.producer, namespace, flow_id, trigger_id, action, **dates)
    except UnknownTrigger as exc:
        raise NotFound(str(exc)) from exc
    except BadRequest as exc:
        where = "path" if exc.field == "triggerId" else "body"
        raise ApiError(422, str(exc), [{"parameter": exc.field, "in": where, "message": str(exc)}]) from exc
    return TriggerRequested(
        request_id=sent.request_id, namespace=namespace, flow_id=flow_id, trigger_id=trigger_id, action=action
    )


_Namespace = Annotated[str, Path(max_length=250)]
_FlowId = Annotated[str, Path(alias="flowId", max_length=250)]
_TriggerId = Annotated[str, Path(alias="triggerId", max_length=250)]


def _toggle(action: Action) -> Callable[..., object]:
    async def endpoint(
        request: Request,
        namespace: _Namespace,
        flow_id: _FlowId,
        trigger_id: _TriggerId,
        api: Annotated[Backends, Depends(backends)],
    ) -> TriggerRequested:
        return await run_in_threadpool(_send, request, api, (namespace, flow_id, trigger_id), action, None)

    return endpoint


for _action in (Action.ENABLE, Action.DISABLE):
    router.add_api_route(
        f"/triggers/{{namespace}}/{{flowId}}/{{triggerId}}/{_action.value}",
        _toggle(_action),
        methods=["POST"],
        status_code=202,
        response_model=TriggerRequested,
        summary=f"{_action.value.capitalize()} a trigger (Schedule, Flow or Webhook)",
        responses=_ERRORS,
        name=f"{_action.value}_trigger",
    )


@router.post(
    "/triggers/{namespace}/{flowId}/{triggerId}/backfill",
    status_code=202,
    summary="Backfill a Schedule trigger: fire its slots from start to end (default now)",
    responses={**_ERRORS, **error_responses(400, _400="the body is not JSON")},
)
async def backfill_trigger(
    request: Request,
    namespace: _Namespace,
    flow_id: _FlowId,
    trigger_id: _TriggerId,
    body: BackfillBody,
    api: Annotated[Backends, Depends(backends)],
) -> TriggerRequested:
    return await run_in_threadpool(_send, request, api, (namespace, flow_id, trigger_id), Action.BACKFILL, body)
