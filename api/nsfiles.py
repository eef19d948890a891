"""A namespace's files (`common/nsfiles.py`), with the reference's routes:
`GET /api/v1/namespaces/{namespace}/files/directory?path=` lists them (under a folder), `GET …/files?path=`
downloads one, `POST …/files?path=` uploads one (the body's bytes, or the multipart part `fileContent`) and
`DELETE …/files?path=` removes a file or a folder (with its revisions). Every upload keeps the content as the
file's next revision: `GET …/files/revisions?path=` lists them, `GET …/files?path=&revision=N` downloads one.
Reading needs the viewer role on the namespace, writing
the developer role (files are code, as flows are)."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from conveyor.api.errors import BadParameter, Conflict, NotFound, error_responses
from conveyor.api.identity import authenticated, require
from conveyor.api.start_body import MULTIPART, is_multipart
from conveyor.common import nsfiles
from conveyor.common.auth import Role
from conveyor.common.kv import NAMESPACE_PATTERN
from conveyor.common.storage import FileNotFound, StorageError

router = APIRouter(prefix="/api/v1", tags=["namespace files"], dependencies=[Depends(authenticated)])

_CHUNK = 1 << 16
Namespace = Annotated[str, Path(pattern=NAMESPACE_PATTERN, max_length=250, description="the namespace")]
FilePath = Annotated[
    str,
    Query(min_length=1, max_length=nsfiles.MAX_PATH, pattern=nsfiles.PATH_PATTERN, description="the file's path"),
]
FolderPath = Annotated[
    str | None,
    Query(
        max_length=nsfiles.MAX_PATH,
        pattern=nsfiles.PATH_PATTERN,
        description="a folder (all the namespace's files when absent)",
    ),
]
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "properties": {"fileContent": {"type": "string", "format": "binary"}},
                    "required": ["fileContent"],
                }
            },
        },
    }
}


def _path(path: str) -> str:
    try:
        return nsfiles.clean_path(path)
    except nsfiles.NamespaceFileError as exc:
        raise BadParameter("path", str(exc), status=422) from None


@router.get(
    "/namespaces/{namespace}/files/directory",
    summary="List a namespace's files",
    responses=error_responses(401, 403, 422, 503),
)
def list_files(request: Request, namespace: Namespace, path: FolderPath = None) -> list[dict[str, Any]]:
    """Every file of the namespace (under the folder `path`), by path: `path`, `size`, `updated`."""
    require(request, Role.VIEWER, namespace)
    folder = _path(path) if path else ""
    return [f.to_dict() for f in nsfiles.files(namespace, folder)]


@router.get(
    "/namespaces/{namespace}/files",
    summary="Download a namespace file",
    responses=error_responses(401, 403, 404, 422, 503),
    response_class=StreamingResponse,
)
async def get_file(
    request: Request,
    namespace: Namespace,
    path: FilePath,
    revision: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="a revision (else the latest)")] = None,
) -> StreamingResponse:
    require(request, Role.VIEWER, namespace)
    clean = _path(path)
    try:
        if revision is None:
            stream = await run_in_threadpool(nsfiles.open_file, namespace, clean)
        else:
            stream = await run_in_threadpool(nsfiles.open_revision, namespace, clean, revision)
    except FileNotFound:
        which = "" if revision is None else f" revision {revision}"
        raise NotFound(f"no file {clean!r}{which} in namespace {namespace!r}") from None

    def chunks() -> Any:
        with stream:
            while chunk := stream.read(_CHUNK):
                yield chunk

    name = clean.rsplit("/", 1)[-1].replace('"', "")
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=disposition)


@router.get(
    "/namespaces/{namespace}/files/revisions",
    summary="List a namespace file's revisions",
    responses=error_responses(401, 403, 404, 422, 503),
)
def list_revisions(request: Request, namespace: Namespace, path: FilePath) -> list[dict[str, Any]]:
    """Every revision the file kept, oldest first: `revision`, `size`, `updated`; 404 when there is none."""
    require(request, Role.VIEWER, namespace)
    clean = _path(path)
    found = nsfiles.revisions(namespace, clean)
    if not found:
        raise NotFound(f"no revisions of {clean!r} in namespace {namespace!r}")
    return [r.to_dict() for r in found]


@router.post(
    "/namespaces/{namespace}/files",
    summary="Upload a namespace file",
    responses=error_responses(400, 401, 403, 409, 413, 422, 503),
    openapi_extra=UPLOAD_BODY,
)
async def put_file(request: Request, namespace: Namespace, path: FilePath) -> dict[str, Any]:
    """Stores the body's bytes (or the form's `fileContent` part) as the file `path`, replacing it, and as its
    next `revision`; 409 when a folder of that name, or a file where a folder of the path should be, is in
    the way."""
    require(request, Role.DEVELOPER, namespace)
    clean = _path(path)
    try:
        size, revision = await _store(request, namespace, clean)
    except (OSError, StorageError) as exc:
        raise Conflict(f"path: cannot store {clean!r} in namespace {namespace!r}: {type(exc).__name__}") from None
    return {"path": clean, "size": size, "revision": revision}


async def _store(request: Request, namespace: str, clean: str) -> tuple[int, int]:
    if is_multipart(request):
        try:
            form = await request.form()
        except Exception as error:  # python-multipart's own errors for a malformed body
            raise BadParameter("body", f"the form could not be parsed: {error}", where="body") from None
        try:
            part = form.get("fileContent")
            if not isinstance(part, UploadFile):
                raise BadParameter("fileContent", "expected a file part named fileContent", where="body", status=422)
            return await run_in_threadpool(nsfiles.put_revision, namespace, clean, part.file)
        finally:
            await form.close()
    return await run_in_threadpool(nsfiles.put_revision, namespace, clean, io.BytesIO(await request.body()))


@router.delete(
    "/namespaces/{namespace}/files",
    status_code=204,
    summary="Delete a namespace file or folder",
    responses=error_responses(401, 403, 404, 422, 503),
)
def delete_file(request: Request, namespace: Namespace, path: FilePath) -> Response:
    require(request, Role.DEVELOPER, namespace)
    clean = _path(path)
    if not nsfiles.delete(namespace, clean):
        raise NotFound(f"no file or folder {clean!r} in namespace {namespace!r}")
    return Response(status_code=204)
