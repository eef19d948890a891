"""The body of `POST /api/v1/executions/{namespace}/{flowId}`: the inputs as one JSON object, or a
`multipart/form-data` form whose text fields are inputs and whose file parts are FILE inputs, each stored in the
internal storage under the new execution's URI (`…/executions/{id}/inputs/{input}/{file name}`), the input's
value being that URI."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from conveyor.api.errors import BadParameter
from conveyor.common.flow import Flow
from conveyor.common.input_types import InputType
from conveyor.common.storage import default_storage
from conveyor.common.storage.uri import ExecutionScope, StorageURIError

MULTIPART = "multipart/form-data"

# The OpenAPI request body of the route: either kind of body.
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "the flow's inputs by id, as JSON values"},
                "example": {"name": "Ada"},
            },
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "format": "binary"},
                    "description": "inputs by id: text fields, and file parts for FILE inputs",
                }
            },
        },
    }
}


async def json_inputs(request: Request) -> dict[str, Any] | None:
    """The JSON object of the body (None: no body); 400 (not JSON) or 422 (not an object) naming `body`."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadParameter("body", "the body could not be parsed: expected JSON in UTF-8", where="body") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadParameter("body", f"expected a JSON object, got {type(value).__name__}", where="body", status=422)
    return value


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == MULTIPART


async def form_parts(request: Request) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    """Text fields and file parts of the form (one value per name; a repeated name is refused)."""
    try:
        form = await request.form()
    except Exception as error:  # python-multipart's own errors for a malformed body
        raise BadParameter("body", f"the form could not be parsed: {error}", where="body") from None
    fields: dict[str, Any] = {}
    files: dict[str, UploadFile] = {}
    for name, value in form.multi_items():
        if name in fields or name in files:
            raise BadParameter(name, "given more than once", where="body", status=422)
        if isinstance(value, UploadFile):
            files[name] = value
        else:
            fields[name] = value
    return fields, files


def store_uploads(flow: Flow, execution_id: str, files: dict[str, UploadFile]) -> dict[str, str]:
    """Each file part stored (blocking I/O: call in a thread); input id -> URI."""
    declared = {i.id: i.type for i in flow.inputs}
    scope = ExecutionScope(flow.namespace, flow.id, execution_id)
    uris: dict[str, str] = {}
    for name, upload in files.items():
        if declared.get(name) != InputType.FILE:
            what = "not an input of the flow" if name not in declared else f"a {declared[name]} input, not FILE"
            raise BadParameter(name, f"a file was uploaded for it, but it is {what}", where="body", status=422)
        try:
            uri = scope.input_file(name, upload.filename or name)
        except StorageURIError as error:
            raise BadParameter(name, f"file name: {error}", where="body", status=422) from None
        default_storage().put(uri, upload.file)
        uris[name] = uri
    return uris
