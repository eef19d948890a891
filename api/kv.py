"""The KV store of a namespace: `GET /api/v1/namespaces/{namespace}/kv` lists its keys (without values),
`GET/PUT/DELETE /api/v1/namespaces/{namespace}/kv/{key}` read, set and delete one (`common/kv.py`).
Reading needs the viewer role on the namespace, writing the runner role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound, error_responses
from conveyor.api.identity import authenticated, require
from conveyor.api.kv_body import KvBody
from conveyor.common.auth import Role
from conveyor.common.kv import KEY_PATTERN, MAX_KEY, NAMESPACE_PATTERN, KvError

router = APIRouter(prefix="/api/v1", tags=["kv"], dependencies=[Depends(authenticated)])

Namespace = Annotated[str, Path(pattern=NAMESPACE_PATTERN, max_length=250, description="the namespace")]
Key = Annotated[str, Path(pattern=KEY_PATTERN, max_length=MAX_KEY, description="the key")]


@router.get("/namespaces/{namespace}/kv", summary="List a namespace's keys", responses=error_responses(401, 403, 503))
async def list_keys(
    request: Request, namespace: Namespace, api: Annotated[Backends, Depends(backends)]
) -> list[dict[str, Any]]:
    """Every live key of the namespace (type, dates, description; no value), by key."""
    require(request, Role.VIEWER, namespace)
    entries = await run_in_threadpool(api.kv.list, namespace)
    return [entry.summary() for entry in entries]


@router.get("/namespaces/{namespace}/kv/{key}", summary="Read a key", responses=error_responses(401, 403, 404, 503))
async def get_key(
    request: Request, namespace: Namespace, key: Key, api: Annotated[Backends, Depends(backends)]
) -> dict[str, Any]:
    require(request, Role.VIEWER, namespace)
    entry = await run_in_threadpool(api.kv.get, namespace, key)
    if entry is None:
        raise NotFound(f"no key {key!r} in namespace {namespace!r} (or it expired)")
    return entry.to_dict() | {"value": entry.value}


@router.put(
    "/namespaces/{namespace}/kv/{key}",
    summary="Set a key",
    responses=error_responses(400, 401, 403, 409, 413, 422, 503),
)
async def put_key(
    request: Request,
    namespace: Namespace,
    key: Key,
    body: Annotated[KvBody, Body()],
    api: Annotated[Backends, Depends(backends)],
) -> dict[str, Any]:
    """The entry as stored; 422 naming `value` when it does not fit `type`, 409 with `overwrite: false` on an
    existing key."""
    require(request, Role.RUNNER, namespace)

    def put() -> dict[str, Any]:
        entry = api.kv.put(
            namespace,
            key,
            body.value,
            kv_type=body.type,
            ttl=body.ttl_delta(),
            overwrite=body.overwrite,
            description=body.description,
        )
        return entry.to_dict()

    try:
        return await run_in_threadpool(put)
    except KvError as exc:
        status = 409 if "already exists" in str(exc) else 422
        raise ApiError(status, str(exc)) from exc


@router.delete(
    "/namespaces/{namespace}/kv/{key}",
    status_code=204,
    summary="Delete a key",
    responses=error_responses(401, 403, 404, 503),
)
async def delete_key(
    request: Request, namespace: Namespace, key: Key, api: Annotated[Backends, Depends(backends)]
) -> Response:
    require(request, Role.RUNNER, namespace)
    if not await run_in_threadpool(api.kv.delete, namespace, key):
        raise NotFound(f"no key {key!r} in namespace {namespace!r}")
    return Response(status_code=204)
