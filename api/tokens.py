"""API tokens: `POST /api/v1/tokens` creates one (the token is in this answer only), `GET /api/v1/tokens`
lists them (never the token or its hash), `DELETE /api/v1/tokens/{tokenId}` revokes one.

A token's scope is a list of role bindings, at most what its creator holds (by default exactly that); it
authenticates as its owner with that scope until it expires or is revoked. Anyone signed in manages their
own tokens; an admin also those of others (and may create one for another owner).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound, error_responses
from conveyor.api.identity import authenticated
from conveyor.api.tokenstore import digest, new_token
from conveyor.common.auth import ApiToken, Binding, Identity
from conveyor.common.clock import utcnow
from conveyor.common.ids import new_id

router = APIRouter(prefix="/api/v1", tags=["tokens"], dependencies=[Depends(authenticated)])

MAX_DAYS = 3650


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="what the token is for")
    bindings: list[Binding] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="its scope: at most the creator's bindings (default: all of them)",
    )
    expiresInDays: int | None = Field(default=None, ge=1, le=MAX_DAYS, description="default CONVEYOR_AUTH_TOKEN_DAYS")
    owner: str | None = Field(default=None, min_length=1, max_length=250, description="admin only: another owner")


class TokenInfo(BaseModel):
    id: str
    name: str
    owner: str
    bindings: list[Binding]
    createdAt: str
    expiresAt: str | None = None
    createdBy: str


class CreatedToken(TokenInfo):
    token: str = Field(description="the token: shown this once, send it as `Authorization: Bearer <token>`")


def _caller(request: Request) -> Identity:
    caller = authenticated(request)
    if caller.kind == "anonymous":
        raise ApiError(403, "anonymous callers have no tokens: sign in first")
    return caller


@router.post(
    "/tokens",
    status_code=201,
    response_model=CreatedToken,
    summary="Create an API token (shown once)",
    responses=error_responses(400, 401, 403, 422, 429, 503, _403="the scope exceeds the creator's, or another owner"),
)
async def create_token(
    request: Request, api: Annotated[Backends, Depends(backends)], body: Annotated[NewToken, Body()]
) -> dict[str, Any]:
    caller = _caller(request)
    bindings = tuple(body.bindings) if body.bindings is not None else caller.bindings
    beyond = [str(b) for b in bindings if not b.within(caller.bindings)]
    if beyond:
        raise ApiError(
            403, f"{caller.name} may not grant {', '.join(beyond)}: a token holds at most its creator's roles"
        )
    if not bindings:  # an identity without roles (its scope would be empty)
        raise ApiError(403, f"{caller.name} holds no role to give a token")
    owner = body.owner or caller.name
    if owner != caller.name and not caller.is_admin:
        raise ApiError(403, f"{caller.name} may not create a token for {owner}: the admin role is required")
    token_id = new_id()
    token = new_token(token_id)
    now = utcnow()
    record = ApiToken(
        id=token_id,
        name=body.name,
        owner=owner,
        bindings=bindings,
        sha256=digest(token),
        created_at=now,
        expires_at=now + timedelta(days=body.expiresInDays or api.auth.token_days),
        created_by=caller.name,
    )
    await run_in_threadpool(api.tokens.create, record)
    return {**record.public(), "token": token}


@router.get(
    "/tokens",
    response_model=list[TokenInfo],
    summary="API tokens: the caller's own, or (admin) everyone's",
    responses=error_responses(401, 403, 422, 429, 503),
)
def list_tokens(
    request: Request,
    api: Annotated[Backends, Depends(backends)],
    owner: Annotated[str | None, Query(max_length=250, description="admin: only this owner's; default all")] = None,
) -> list[dict[str, Any]]:
    caller = _caller(request)
    if not caller.is_admin:
        if owner not in (None, caller.name):
            raise ApiError(403, f"{caller.name} may not list the tokens of {owner}: the admin role is required")
        owner = caller.name
    return [t.public() for t in api.tokens.all() if owner is None or t.owner == owner]


@router.delete(
    "/tokens/{tokenId}",
    status_code=204,
    summary="Revoke an API token",
    responses=error_responses(401, 403, 404, 422, 429, 503, _404="no such token (of the caller's)"),
)
async def revoke_token(
    request: Request,
    api: Annotated[Backends, Depends(backends)],
    token_id: Annotated[str, Path(alias="tokenId", max_length=64)],
) -> Response:
    caller = _caller(request)
    record = await run_in_threadpool(api.tokens.get, token_id)
    if record is None or (record.owner != caller.name and not caller.is_admin):
        raise NotFound(f"no token {token_id!r}")
    await run_in_threadpool(api.tokens.revoke, token_id)
    return Response(status_code=204)
