"""`POST /api/v1/flows` deploys a flow from its YAML (validated, stored on the `flows` topic);
`GET /api/v1/flows/{namespace}/{id}` reads the deployed revision back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound
from conveyor.common.deployed import DeployedFlow
from conveyor.common.flow import Flow
from conveyor.common.loader import flow_to_dict

router = APIRouter(prefix="/api/v1", tags=["flows"])

MAX_SOURCE_BYTES = 1024 * 1024

_YAML_BODY = {
    "requestBody": {
        "required": True,
        "description": "the flow's YAML, as `conveyor validate` reads it",
        "content": {
            "application/x-yaml": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/flows",
    status_code=201,
    summary="Deploy a flow from its YAML",
    openapi_extra=_YAML_BODY,
    responses={200: {"description": "the same source was already deployed: nothing changed"}},
)
async def deploy_flow(
    request: Request, response: Response, api: Annotated[Backends, Depends(backends)]
) -> dict[str, Any]:
    """201 with the new revision, 200 if this exact source is already the latest, 422 naming the line and
    field of every problem of an invalid flow."""
    raw = await request.body()
    if len(raw) > MAX_SOURCE_BYTES:
        raise ApiError(413, f"a flow's YAML may be at most {MAX_SOURCE_BYTES} bytes")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "the request body must be the flow's YAML in UTF-8") from None
    if not source.strip():
        raise ApiError(422, "the request body must be the flow's YAML; it is empty")
    deployed, flow, created = await run_in_threadpool(api.catalog.deploy, source)
    request.state.audit = {"namespace": deployed.namespace, "flowId": deployed.id}
    if not created:
        response.status_code = 200
    return _describe(deployed, flow)


@router.get("/flows/{namespace}/{flowId}", summary="The deployed revision of a flow")
def get_flow(
    namespace: Annotated[str, Path(max_length=250)],
    flow_id: Annotated[str, Path(alias="flowId", max_length=250)],
    api: Annotated[Backends, Depends(backends)],
) -> dict[str, Any]:
    found = api.catalog.get(namespace, flow_id)
    if found is None:
        raise NotFound(f"flow {namespace}.{flow_id} is not deployed")
    return _describe(*found)


def _describe(deployed: DeployedFlow, flow: Flow) -> dict[str, Any]:
    return {
        **flow_to_dict(flow),
        "revision": deployed.revision,
        "deployedAt": deployed.deployed_at.isoformat(),
        "source": deployed.source,
    }
