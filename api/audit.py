"""The audit trail of the API (`common/audit.py`): `Audit` records every mutation and every refused request
on the `audit` topic; `GET /api/v1/audit` (admin only) reads the indexed records back.

A mutation is any unsafe request (POST, PUT, PATCH, DELETE) but the few that only read (`READS`); a refused
request is any answered 401, 403 or 429, whatever its method. The record names the route (`deploy_flow`,
`start_execution`, ...), the namespace, flow and execution from the path, or those a route put in
`request.state.audit` (a deployed flow's, a started execution's id), the client's address, the status and
the answer's `message`. Headers and bodies are never copied. Kafka being away never fails a request: the
record is then only logged (without a secret either).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.api.backends import Backends
from conveyor.api.errors import BadParameter, error_responses
from conveyor.api.identity import require_admin, who
from conveyor.common.audit import MAX_DETAIL, AuditRecord, parse_since, result_of
from conveyor.common.kafka.errors import KafkaError
from conveyor.indexer import queries
from conveyor.indexer.dsl import MAX_SIZE

log = logging.getLogger(__name__)

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DENIED = frozenset({401, 403, 429})
# Routes that take a POST but change nothing.
READS = frozenset({"daily_stats"})
# How much of an error answer is read for its `message`.
_BODY_PEEK = 4096

router = APIRouter(prefix="/api/v1", tags=["audit"])


class Audit:
    """ASGI middleware: one `AuditRecord` per mutation or refusal, sent once the answer is out."""

    def __init__(self, app: ASGIApp, *, backends: Backends) -> None:
        self.app = app
        self.backends = backends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        body = b""

        async def watching(message: Message) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status >= 400 and len(body) < _BODY_PEEK:
                body += bytes(message.get("body", b""))[: _BODY_PEEK - len(body)]
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            if status in DENIED or (scope["method"] in UNSAFE and self._route_name(scope) not in READS):
                self._send(record(scope, status, _message(body) if status >= 400 else None, self._route(scope)))

    def _route(self, scope: Scope) -> tuple[str | None, dict[str, Any]]:
        """The route's name and path parameters: from routing, else (refused before routing) by matching."""
        route = scope.get("route")
        if route is not None:
            return getattr(route, "name", None), dict(scope.get("path_params") or {})
        return _match(getattr(getattr(scope.get("app"), "router", None), "routes", ()), scope)

    def _route_name(self, scope: Scope) -> str | None:
        return self._route(scope)[0]

    def _send(self, entry: AuditRecord) -> None:
        try:
            producer = self.backends.producer
            producer.send(self.backends.topics.audit, entry.key, entry.to_json())
        except KafkaError as exc:
            log.error("audit record not delivered (%s): %s", exc, entry.model_dump_json(by_alias=True))
            return
        log.info(
            "audit: %s %s %s -> %d %s",
            entry.user,
            entry.action,
            entry.execution_id or entry.flow_id or "",
            entry.status,
            entry.result,
        )


def _match(routes: Any, scope: Scope, depth: int = 0) -> tuple[str | None, dict[str, Any]]:
    """The endpoint among `routes` (and the routers included in them) that the request matches."""
    for candidate in routes or ():
        match, child = candidate.matches(scope)
        if match != Match.FULL:
            continue
        if hasattr(candidate, "endpoint"):
            return getattr(candidate, "name", None), dict(child.get("path_params") or {})
        nested = getattr(getattr(candidate, "original_router", candidate), "routes", None)
        if nested and depth < 4:
            found = _match(nested, scope, depth + 1)
            if found[0] is not None:
                return found
    return None, {}


def record(scope: Scope, status: int, detail: str | None, route: tuple[str | None, dict[str, Any]]) -> AuditRecord:
    request = Request(scope)
    name, params = route
    extra: dict[str, Any] = getattr(request.state, "audit", None) or {}
    client = scope.get("client")
    return AuditRecord(
        timestamp=datetime.now(UTC),
        user=who(request),
        action=name or f"{scope['method']} {scope['path']}",
        method=scope["method"],
        path=_redacted(scope["path"], params)[:1000],
        namespace=extra.get("namespace") or params.get("namespace"),
        flow_id=extra.get("flowId") or params.get("flowId"),
        execution_id=extra.get("executionId") or params.get("executionId"),
        client=str(client[0]) if client else None,
        status=status,
        result=result_of(status),
        detail=detail[:MAX_DETAIL] if detail else None,
    )


def _redacted(path: str, params: dict[str, Any]) -> str:
    """The path without a webhook's key (the secret part of its URL: never indexed)."""
    key = params.get("key")
    return path.replace(f"/{key}", "/***") if isinstance(key, str) and key else path


def _message(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return str(message) if message is not None else None


def _since(value: str | None) -> datetime | None:
    try:
        return parse_since(value)
    except ValueError as exc:
        raise BadParameter("since", str(exc)) from None


@router.get(
    "/audit",
    summary="The audit trail, newest first (admin only)",
    dependencies=[Depends(require_admin)],
    responses=error_responses(400, 401, 403, 422, 429, 503, _403="not an admin"),
)
def read_audit(
    request: Request,
    user: Annotated[str | None, Query(max_length=250, description="only this user's records")] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            description="ISO date-time, or a duration back: P1D",
            json_schema_extra={"format": "conveyor-since"},
        ),
    ] = None,
    namespace: Annotated[str | None, Query(max_length=250)] = None,
    result: Annotated[str | None, Query(pattern="^(SUCCESS|DENIED|FAILED)$")] = None,
    size: Annotated[int, Query(ge=1, le=MAX_SIZE)] = 100,
) -> list[dict[str, Any]]:
    """Who deployed, started, killed or restarted what, and who was refused: the indexed `audit` records."""
    api: Backends = request.app.state.backends
    return queries.search_audit(
        api.client, api.prefix, user=user, since=_since(since), namespace=namespace, result=result, size=size
    )
