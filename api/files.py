"""An execution's files in the internal storage: the download and a preview of text and CSV files.

Only files of that execution are served (the URI must lie under its `…/executions/{id}/` folder), to callers
with the VIEWER role on its namespace."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import BadParameter, NotFound, error_responses
from conveyor.api.identity import authenticated, may_read
from conveyor.common.storage import FileNotFound, StorageSettings, default_storage, file_name
from conveyor.common.storage.uri import ExecutionScope
from conveyor.indexer import queries

router = APIRouter(prefix="/api/v1", tags=["files"], dependencies=[Depends(authenticated)])

_CHUNK = 1 << 16
_TEXT = {"txt", "log", "json", "yaml", "yml", "md", "xml", "sql", "sh", "py", "ion", "tsv"}
PathQuery = Annotated[str, Query(max_length=2000, description="the file's kestra:/// URI")]
ExecutionId = Annotated[str, Path(alias="executionId", max_length=250)]


def _scope(request: Request, api: Backends, execution_id: str, path: str) -> ExecutionScope:
    execution = queries.get_execution(api.client, api.prefix, execution_id)
    # An execution of a namespace the caller may not read is answered as an unknown one.
    if execution is None or not may_read(request, str(execution.get("namespace", ""))):
        raise NotFound(f"execution {execution_id!r} not found (not started, or not indexed yet)")
    scope = ExecutionScope(str(execution["namespace"]), str(execution["flowId"]), execution_id)
    if not scope.owns(path):
        raise BadParameter("path", f"not a file of execution {execution_id} (expected a URI under {scope.prefix})")
    return scope


@router.get(
    "/executions/{executionId}/file",
    summary="Download a file of an execution",
    responses=error_responses(400, 401, 403, 404, 422, 429, 503, _404="no such execution or file"),
    response_class=StreamingResponse,
)
async def download(
    request: Request, execution_id: ExecutionId, path: PathQuery, api: Annotated[Backends, Depends(backends)]
) -> StreamingResponse:
    """The file's bytes, as an attachment named as the file."""
    await run_in_threadpool(_scope, request, api, execution_id, path)
    try:
        stream = await run_in_threadpool(default_storage().open, path)
    except FileNotFound:
        raise NotFound(f"no file at {path}") from None

    def chunks() -> Any:
        with stream:
            while chunk := stream.read(_CHUNK):
                yield chunk

    name = file_name(path).replace('"', "")
    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/executions/{executionId}/file/preview",
    summary="Preview a text or CSV file of an execution",
    responses=error_responses(400, 401, 403, 404, 422, 429, 503, _404="no such execution or file"),
)
def preview(
    request: Request, execution_id: ExecutionId, path: PathQuery, api: Annotated[Backends, Depends(backends)]
) -> dict[str, Any]:
    """CSV files (`.csv`) as rows of fields, other files as text: at most `CONVEYOR_STORAGE_PREVIEW_LIMIT` bytes
    of their start (`truncated` says whether there was more)."""
    _scope(request, api, execution_id, path)
    limit = StorageSettings().preview_limit
    try:
        with default_storage().open(path) as stream:
            head = stream.read(limit + 1)
    except FileNotFound:
        raise NotFound(f"no file at {path}") from None
    truncated = len(head) > limit
    text = head[:limit].decode("utf-8", errors="replace")
    extension = file_name(path).rsplit(".", 1)[-1].lower() if "." in file_name(path) else ""
    if extension == "csv":
        lines = text.splitlines(keepends=True)
        if truncated and lines:
            lines = lines[:-1]  # the last line may be cut
        return {"type": "csv", "rows": list(csv.reader(io.StringIO("".join(lines)))), "truncated": truncated}
    kind = "text" if extension in _TEXT or "\x00" not in text else "binary"
    return {"type": kind, "content": text if kind == "text" else None, "truncated": truncated}
