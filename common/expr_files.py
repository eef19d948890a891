"""The expression functions of the internal storage: `read(uri)`, `fileSize(uri)` and `fileURI(name)`.

`read` returns a file's content as text (UTF-8), for files of the current execution only (as the reference),
or, given a path rather than a `kestra:///` URI, a file of the flow's namespace (`read('sql/q.sql')`);
a file larger than `CONVEYOR_STORAGE_READ_LIMIT` bytes is
refused with its size and the limit, before anything is read. Only `kestra:///` URIs of the storage are read,
never paths of the machine. `fileURI(name)` is the URI a task run's file `name` has (where Commands'
`outputFiles` put `name`), so a task can name its own file before it exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from conveyor.common import nsfiles
from conveyor.common.storage import FileNotFound, StorageSettings, default_storage
from conveyor.common.storage.uri import SCHEME, ExecutionScope, key_of, readable


def _current(ctx: Context) -> ExecutionScope | None:
    """The execution whose expression this is, when the context says (a flow's always does)."""
    flow, execution = ctx.get("flow"), ctx.get("execution")
    if not isinstance(flow, Mapping) or not isinstance(execution, Mapping):
        return None
    if not (flow.get("namespace") and flow.get("id") and execution.get("id")):
        return None
    return ExecutionScope(str(flow["namespace"]), str(flow["id"]), str(execution["id"]))


@pass_context
def read(ctx: Context, uri: Any) -> str:
    if not isinstance(uri, str):
        kind = type(uri).__name__
        raise ValueError(f"read() expects a kestra:/// storage URI or a namespace file's path, got {kind}")
    if not uri.startswith(SCHEME):
        return read_namespace_file(ctx, uri)
    _check_readable(ctx, uri, "read()")
    return _content(uri, f"file at {uri}")


def read_namespace_file(ctx: Context, path: str) -> str:
    """`read('scripts/a.sql')`: a file of the flow's namespace (`common/nsfiles.py`)."""
    flow = ctx.get("flow")
    namespace = flow.get("namespace") if isinstance(flow, Mapping) else None
    if not namespace:
        raise ValueError("read() of a namespace file needs `flow.namespace` in its context")
    try:
        clean = nsfiles.clean_path(path)
        found = nsfiles.uri(str(namespace), clean)
    except nsfiles.NamespaceFileError as exc:
        raise ValueError(f"read(): {exc}") from None
    try:
        return _content(found, f"namespace file {clean!r} of {namespace}")
    except ValueError as exc:
        if not str(exc).startswith("read(): no namespace file"):
            raise
        hint = f"upload it: `conveyor nsfiles upload DIR --namespace {namespace}`, or the API's namespace files"
        raise ValueError(f"{exc} ({hint})") from None


@pass_context
def file_size(ctx: Context, path: Any) -> int:
    """`fileSize(uri)`: the size in bytes of a file of the current execution (or of the one that triggered it)."""
    if not isinstance(path, str) or not path.startswith(SCHEME):
        raise ValueError(f"fileSize(): Unable to create the URI from the path {path}")
    _check_readable(ctx, path, "fileSize()")
    try:
        return default_storage().size(path)
    except FileNotFound:
        raise ValueError(f"fileSize(): no file at {path}") from None


def _check_readable(ctx: Context, uri: str, function: str) -> None:
    key_of(uri)  # StorageURIError names what is wrong with it
    current = _current(ctx)
    trigger = ctx.get("trigger")
    if current is not None and not readable(uri, current, dict(trigger) if isinstance(trigger, Mapping) else None):
        raise ValueError(f"{function}: {uri} is not a file of this execution (expected a URI under {current.prefix})")


def _content(uri: str, what: str) -> str:
    storage = default_storage()
    limit = StorageSettings().read_limit
    try:
        size = storage.size(uri)
    except FileNotFound:
        raise ValueError(f"read(): no {what}") from None
    if size > limit:
        raise ValueError(
            f"read(): the {what} is {size} bytes, more than the limit of {limit} (CONVEYOR_STORAGE_READ_LIMIT)"
        )
    with storage.open(uri) as stream:
        return stream.read(limit + 1).decode("utf-8", errors="replace")


def _name_of(ctx: Context, variable: str) -> str:
    value = ctx.get(variable)
    if not isinstance(value, Mapping) or not value.get("id"):
        raise ValueError(f"fileURI() needs `{variable}.id` in its context (it names a task run's file)")
    return str(value["id"])


@pass_context
def file_uri(ctx: Context, name: Any) -> str:
    flow = ctx.get("flow")
    namespace = flow.get("namespace") if isinstance(flow, Mapping) else None
    if not namespace:
        raise ValueError("fileURI() needs `flow.namespace` in its context")
    scope = ExecutionScope(str(namespace), _name_of(ctx, "flow"), _name_of(ctx, "execution"))
    return scope.task_file(_name_of(ctx, "task"), _name_of(ctx, "taskrun"), str(name))
