"""Retention: the files of executions whose newest file is older than a cutoff are deleted, execution by
execution (`conveyor purge --older-than P30D`). One listing of the storage, then one delete per execution."""

from __future__ import annotations

from datetime import datetime

from conveyor.common.storage.base import Storage
from conveyor.common.storage.uri import SCHEME, key_of, uri_of

_MARK = "/executions/"


def execution_prefix(uri: str) -> str | None:
    """`kestra:///ns/flow/executions/ID/` for a file of an execution, None for any other file."""
    key = key_of(uri)
    head, found, rest = key.partition(_MARK)
    if not found or not rest or "/" not in rest:
        return None
    return uri_of(f"{head}{_MARK}{rest.split('/', 1)[0]}") + "/"


def purge(storage: Storage, cutoff: datetime) -> dict[str, int]:
    """Delete every execution's files whose newest one was written before `cutoff`: prefix -> files deleted."""
    newest: dict[str, datetime] = {}
    for stored in storage.files(SCHEME + "/"):
        prefix = execution_prefix(stored.uri)
        if prefix is not None and (prefix not in newest or stored.modified > newest[prefix]):
            newest[prefix] = stored.modified
    return {prefix: storage.delete(prefix) for prefix, modified in sorted(newest.items()) if modified < cutoff}
