"""Server-sent events of one execution, fed by the server's one live feed (`api/live.py`):

- `GET /api/v1/logs/{executionId}/follow`: its log lines as they are produced (`event: log`);
- `GET /api/v1/executions/{executionId}/follow`: its changes (`event: execution`, `event: taskrun`).

Each record is sent once, as the document the search API answers (`data:` one JSON line). A stream starts
with `event: ready` (from then on nothing produced is missed: read what came before with
`GET /api/v1/logs/{id}` or `/api/v1/executions/{id}`), sends a comment every `KEEPALIVE` seconds, and ends
with `event: end` a few seconds after the execution ended (at once when it had ended already), or with
`event: overflow` when the client does not keep up (it is dropped rather than slowing the others).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import NotFound, error_responses
from conveyor.api.identity import authenticated, may_read, require
from conveyor.api.live import Subscription
from conveyor.common.auth import Role
from conveyor.common.state import TERMINAL, StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer import queries

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])

KEEPALIVE = 15.0
# After the execution ended: how long the stream goes on for the last records (logs come after the state).
GRACE = 3.0
LEVELS = [level.value for level in LogLevel]

_STREAM = {
    200: {
        "description": "an `text/event-stream` of the execution's records, until it ends",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
ExecutionId = Annotated[str, Path(alias="executionId", max_length=250)]
Api = Annotated[Backends, Depends(backends)]


def _find(api: Backends, execution_id: str) -> tuple[str, StateType] | None:
    """(namespace, state) of the indexed execution (as `GET /api/v1/executions/{id}`: one not indexed yet is
    not found; the page opens its streams once it has read the execution)."""
    found = queries.get_execution(api.client, api.prefix, execution_id)
    if found is None:
        return None
    return str(found.get("namespace", "")), StateType(found["state"]["current"])


async def _open(request: Request, api: Backends, execution_id: str, kinds: frozenset[str]) -> Subscription | None:
    """The subscription (None: the execution has ended already); 404 when unknown or unreadable, 403 without
    the viewer role."""
    found = await run_in_threadpool(_find, api, execution_id)
    if found is None or not may_read(request, found[0]):
        raise NotFound(f"execution {execution_id!r} not found (not started, or not indexed yet)")
    require(request, Role.VIEWER, found[0])
    if found[1] in TERMINAL:
        return None
    return await run_in_threadpool(api.live.subscribe, execution_id, kinds, asyncio.get_running_loop())


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _stream(request: Request, api: Backends, sub: Subscription | None, keep: Any = None) -> AsyncIterator[bytes]:
    yield _event("ready", {})
    if sub is None:
        yield _event("end", {"reason": "the execution has ended"})
        return
    ended_at: float | None = None
    loop = asyncio.get_running_loop()
    try:
        while True:
            wait = KEEPALIVE if ended_at is None else max(0.0, ended_at + GRACE - loop.time())
            try:
                kind, doc = await asyncio.wait_for(sub.queue.get(), timeout=wait)
            except TimeoutError:
                if ended_at is not None:
                    yield _event("end", {"reason": "the execution has ended"})
                    return
                if await request.is_disconnected():
                    return
                yield b": keepalive\n\n"
                continue
            if kind == "overflow":
                yield _event(kind, doc)
                return
            if kind == "execution" and doc.get("state", {}).get("current") in TERMINAL and ended_at is None:
                ended_at = loop.time()
            if kind in sub.kinds and (keep is None or keep(doc)):
                yield _event(kind, doc)
    finally:
        api.live.unsubscribe(sub)


def _answer(body: AsyncIterator[bytes]) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


@router.get(
    "/logs/{executionId}/follow",
    summary="Follow an execution's log lines (server-sent events)",
    response_class=StreamingResponse,
    responses={**_STREAM, **error_responses(401, 403, 404, 422, 429, 503)},  # type: ignore[dict-item]
)
async def follow_logs(
    request: Request,
    execution_id: ExecutionId,
    api: Api,
    min_level: Annotated[LogLevel | None, Query(alias="minLevel", description="lowest level sent")] = None,
    task_run_id: Annotated[str | None, Query(alias="taskRunId", max_length=250)] = None,
) -> StreamingResponse:
    """`event: log` per new line of the execution (the `GET /api/v1/logs/{id}` line), from the moment the
    stream is open (`event: ready`) to a few seconds after the execution ended (`event: end`)."""
    sub = await _open(request, api, execution_id, frozenset({"log", "execution"}))
    lowest = LEVELS.index(min_level.value) if min_level else 0

    def keep(doc: dict[str, Any]) -> bool:
        if "level" not in doc:  # an execution change: only its end matters here
            return False
        level = LEVELS.index(doc["level"]) if doc["level"] in LEVELS else 0
        return level >= lowest and (task_run_id is None or doc.get("taskRunId") == task_run_id)

    return _answer(_stream(request, api, sub, keep))


@router.get(
    "/executions/{executionId}/follow",
    summary="Follow an execution's changes (server-sent events)",
    response_class=StreamingResponse,
    responses={**_STREAM, **error_responses(401, 403, 404, 422, 429, 503)},  # type: ignore[dict-item]
)
async def follow_execution(request: Request, execution_id: ExecutionId, api: Api) -> StreamingResponse:
    """`event: execution` (the execution document, without its task runs) and `event: taskrun` (a task-run
    document) for each change, until a few seconds after the execution ended (`event: end`)."""
    sub = await _open(request, api, execution_id, frozenset({"execution", "taskrun"}))
    return _answer(_stream(request, api, sub))
