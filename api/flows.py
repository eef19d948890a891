"""`POST /api/v1/flows` deploys a flow from its YAML (validated, stored on the `flows` topic);
`GET /api/v1/flows` lists the deployed flows (namespace prefix, paged); `GET /api/v1/flows/{namespace}/{id}`
reads the latest (or an older `revision`) back; `DELETE` writes a deleted revision; `POST /api/v1/flows/validate`
checks a flow's YAML without deploying it (the Flows page's editor asks it while the user types)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound, error_responses
from conveyor.api.identity import authenticated, may_read, require
from conveyor.common.auth import Role
from conveyor.common.deployed import DeployedFlow
from conveyor.common.errors import FlowError, Problem
from conveyor.common.flow import Flow
from conveyor.common.flow_warnings import flow_warnings
from conveyor.common.loader import MAX_FLOW_BYTES, decode_flow, flow_to_dict, load_flow

router = APIRouter(prefix="/api/v1", tags=["flows"], dependencies=[Depends(authenticated)])

MAX_SOURCE_BYTES = MAX_FLOW_BYTES
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000

# `format`: the text must be a valid flow (docs/flows.md); no JSON Schema says that of a string, so the
# format names it (tests/integration/schemathesis_hooks.py teaches it to the API's fuzz test).
_FLOW_SOURCE = {"type": "string", "format": "conveyor-flow-yaml", "maxLength": MAX_SOURCE_BYTES}

_YAML_BODY = {
    "requestBody": {
        "required": True,
        # `application/x-yaml` (and any other text type) is read the same; only text/plain is documented, as
        # a generic client would quote a string sent as YAML (then it is a YAML string, not a flow).
        "description": "the flow's YAML, as `conveyor validate` reads it (also accepted as application/x-yaml)",
        "content": {
            "text/plain": {"schema": _FLOW_SOURCE},
        },
    }
}
# The editor asks with whatever the user has typed, nothing included: an empty body is answered 200 with
# `valid: false` ("the flow's YAML is empty"), so for this route the body is optional.
_VALIDATE_BODY = {"requestBody": {**_YAML_BODY["requestBody"], "required": False}}


@router.post(
    "/flows",
    status_code=201,
    summary="Deploy a flow from its YAML",
    openapi_extra=_YAML_BODY,
    responses={
        200: {"description": "the same source was already deployed: nothing changed"},
        **error_responses(
            401, 403, 413, 422, 429, 503, _422="the flow is invalid: each problem with its field, line and column"
        ),
    },
)
async def deploy_flow(
    request: Request, response: Response, api: Annotated[Backends, Depends(backends)]
) -> dict[str, Any]:
    """201 with the new revision, 200 if this exact source is already the latest, 422 naming the line and
    field of every problem of an invalid flow."""
    raw = await request.body()
    if len(raw) > MAX_SOURCE_BYTES:
        raise ApiError(413, f"a flow's YAML may be at most {MAX_SOURCE_BYTES} bytes")
    source = decode_flow(raw, "request body")  # not UTF-8 -> FlowError -> 422 naming line and column
    if not source.strip():
        raise ApiError(422, "the request body must be the flow's YAML; it is empty")

    def allowed(flow: Flow) -> None:  # the namespace is known once the YAML is read
        request.state.audit = {"namespace": flow.namespace, "flowId": flow.id}
        require(request, Role.DEVELOPER, flow.namespace)

    deployed, flow, created = await run_in_threadpool(api.catalog.deploy, source, "request body", allowed)
    request.state.audit = {"namespace": deployed.namespace, "flowId": deployed.id}
    if not created:
        response.status_code = 200
    return _describe(deployed, flow)


@router.post(
    "/flows/validate",
    summary="Validate a flow's YAML without deploying it",
    openapi_extra=_VALIDATE_BODY,
    responses=error_responses(401, 413, 429),
)
async def validate_flow(request: Request) -> dict[str, Any]:
    """Always 200 for a readable body: `valid`, and either the flow's `namespace`, `id`, `inputs` and
    `warnings` (what `conveyor validate` warns of: an expression that cannot compile, a `defaults` its input
    refuses) or its `errors`, each with the field, line and column of one problem (as a 422 of `POST /flows`
    names them). Nothing is stored, so any signed-in user may ask."""
    raw = await request.body()
    if len(raw) > MAX_SOURCE_BYTES:
        raise ApiError(413, f"a flow's YAML may be at most {MAX_SOURCE_BYTES} bytes")
    try:
        source = decode_flow(raw, "request body")
        if not source.strip():
            return {"valid": False, "errors": [_empty()]}
        flow = await run_in_threadpool(load_flow, source, "request body")
        warnings = await run_in_threadpool(flow_warnings, source, flow)
    except FlowError as exc:
        return {"valid": False, "errors": [_problem(p) for p in exc.problems]}
    inputs = [i.model_dump(mode="json", by_alias=True, exclude_none=True) for i in flow.inputs]
    found = [_problem(p) for p in warnings]
    return {"valid": True, "namespace": flow.namespace, "id": flow.id, "inputs": inputs, "warnings": found}


def _problem(problem: Problem) -> dict[str, Any]:
    return {"field": problem.field, "message": problem.message, "line": problem.line, "column": problem.column}


def _empty() -> dict[str, Any]:
    return {"field": "", "message": "the flow's YAML is empty", "line": 1, "column": 1}


@router.get(
    "/flows",
    summary="The deployed flows, by namespace then id",
    responses=error_responses(401, 403, 422, 429, 503),
)
def list_flows(
    request: Request,
    api: Annotated[Backends, Depends(backends)],
    namespace: Annotated[str | None, Query(max_length=250, description="namespace prefix")] = None,
    page: Annotated[int, Query(ge=1, le=100_000, description="1-based page number")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """The latest revision of each deployed flow (deleted ones left out): `results` (namespace, id,
    revision, deployedAt) and `total`, the number of flows the filter matched."""
    flows = [deployed for deployed in api.catalog.list(namespace) if may_read(request, deployed.namespace)]
    start = (page - 1) * size
    return {"results": [_summary(d) for d in flows[start : start + size]], "total": len(flows)}


@router.get(
    "/flows/{namespace}/{flowId}",
    summary="The deployed revision of a flow",
    responses=error_responses(
        401, 404, 422, 429, 503, _404="the flow is not deployed (or deleted, or no such revision, or not yours to read)"
    ),
)
def get_flow(
    request: Request,
    namespace: Annotated[str, Path(max_length=250)],
    flow_id: Annotated[str, Path(alias="flowId", max_length=250)],
    api: Annotated[Backends, Depends(backends)],
    revision: Annotated[
        int | None, Query(ge=1, le=2**31, description="an older revision (default: the latest)")
    ] = None,
) -> dict[str, Any]:
    found = api.catalog.get(namespace, flow_id, revision) if may_read(request, namespace) else None
    if found is None:
        which = f"revision {revision} of flow" if revision is not None else "flow"
        raise NotFound(f"{which} {namespace}.{flow_id} is not deployed")
    return _describe(*found)


@router.delete(
    "/flows/{namespace}/{flowId}",
    summary="Delete a flow (its triggers stop)",
    responses=error_responses(401, 403, 404, 422, 429, 503, _404="the flow is not deployed (or not yours to read)"),
)
def delete_flow(
    request: Request,
    namespace: Annotated[str, Path(max_length=250)],
    flow_id: Annotated[str, Path(alias="flowId", max_length=250)],
    api: Annotated[Backends, Depends(backends)],
) -> dict[str, Any]:
    """Writes a deleted revision on the `flows` topic; answers it (`deleted: true`)."""
    request.state.audit = {"namespace": namespace, "flowId": flow_id}
    if not may_read(request, namespace):
        raise NotFound(f"flow {namespace}.{flow_id} is not deployed")
    require(request, Role.DEVELOPER, namespace)
    deleted = api.catalog.delete(namespace, flow_id)
    if deleted is None:
        raise NotFound(f"flow {namespace}.{flow_id} is not deployed")
    return {**_summary(deleted), "deleted": True}


def _summary(deployed: DeployedFlow) -> dict[str, Any]:
    return {
        "namespace": deployed.namespace,
        "id": deployed.id,
        "revision": deployed.revision,
        "deployedAt": deployed.deployed_at.isoformat(),
    }


def _describe(deployed: DeployedFlow, flow: Flow) -> dict[str, Any]:
    return {
        **flow_to_dict(flow),
        "revision": deployed.revision,
        "deployedAt": deployed.deployed_at.isoformat(),
        "source": deployed.source,
    }
