"""The HTTP Download runner: the request of `worker.runners.http`, its response's body streamed (in chunks,
up to `options.maxContentLength`, 1 GiB by default) to a temporary file and then stored in the internal
storage under the task run's URIs. The file's name is the response's `Content-Disposition` filename, else
the URI path's last segment, else `download`."""

from __future__ import annotations

import contextlib
import posixpath
import re
import tempfile
from typing import Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit

import httpx

from conveyor.common.storage import StorageError, StorageURIError, default_storage
from conveyor.common.storage.uri import ExecutionScope
from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.http import Download
from conveyor.worker.runners.base import RunContext, RunOutcome
from conveyor.worker.runners.http import BodyTooLarge, Call, Response, describe, headers_of, request_uri, run_call
from conveyor.worker.runners.http import safe_uri as safe

CHUNK = 64 * 1024
_FILENAME = re.compile(r"""filename\*?\s*=\s*(?:[\w-]+'[\w-]*')?"?([^";]+)"?""", re.IGNORECASE)


class DownloadRunner:
    def run(self, task: Download, ctx: RunContext) -> RunOutcome:
        uri = request_uri(task, ctx)
        with tempfile.TemporaryFile() as opened:
            spool = cast(BinaryIO, opened)
            call = _DownloadCall(task, ctx, uri, spool)
            if not run_call(call, ctx):
                return RunOutcome.failed("the download was stopped")
            if call.error is not None:
                return RunOutcome.failed(f"HTTP request to {safe(uri)} failed: {describe(call.error)}")
            assert call.response is not None
            return _stored(task, ctx, uri, call.response, call.length, spool)


def _stored(task: Download, ctx: RunContext, uri: str, response: Response, length: int, spool: BinaryIO) -> RunOutcome:
    outputs: dict[str, Any] = {"code": response.code, "length": length, "headers": response.headers}
    if response.code >= 400 and not task.failure_allowed():
        return RunOutcome.failed(f"Failed http request with response code '{response.code}'", outputs)
    ctx.metric("response.length", length)
    if length == 0:
        if task.fail_on_empty_response and not task.failure_allowed():
            return RunOutcome.failed(f"No response from server: the download of {safe(uri)} is empty", outputs)
        ctx.log(LogLevel.WARN, f"File '{safe(uri)}' is empty")
    run = ctx.job.task_run
    name = file_name(uri, response.headers)
    try:
        stored = ExecutionScope(run.namespace, run.flow_id, run.execution_id).task_file(run.task_id, run.id, name)
        spool.seek(0)
        default_storage().put(stored, spool)
    except (StorageError, StorageURIError, OSError) as exc:
        return RunOutcome.failed(f"could not store the download of {safe(uri)}: {exc}", outputs)
    return RunOutcome.success({"uri": stored, **outputs})


def file_name(uri: str, headers: dict[str, list[str]]) -> str:
    """The stored file's name: a safe last path segment (never a folder, never `..`)."""
    candidates = []
    for disposition in headers.get("content-disposition", []):
        found = _FILENAME.findall(disposition)
        if found:
            candidates.append(unquote(found[-1]))
    with contextlib.suppress(ValueError):
        candidates.append(unquote(posixpath.basename(urlsplit(uri).path)))
    for candidate in candidates:
        name = candidate.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if name and name not in (".", ".."):
            return name[:200]
    return "download"


class _DownloadCall(Call):
    def __init__(self, task: Download, ctx: RunContext, uri: str, spool: BinaryIO) -> None:
        super().__init__(task, ctx, uri)
        self.limit = task.body_limit()
        self.spool = spool
        self.length = 0

    def consume(self, raw: httpx.Response) -> Response:
        for chunk in raw.iter_bytes(CHUNK):
            self.length += len(chunk)
            if self.length > self.limit:
                raise BodyTooLarge(f"the response body is larger than options.maxContentLength ({self.limit} bytes)")
            self.spool.write(chunk)
        declared = raw.headers.get("content-length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) != self.length
            and not raw.headers.get("content-encoding")
        ):
            raise ValueError(f"Invalid size, got {self.length}, expected {declared}")
        return Response(raw.status_code, headers_of(raw.headers), None)
