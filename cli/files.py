"""The CLI's side of the internal storage: `--input NAME=@PATH` uploads for FILE inputs (of `conveyor run`, and
of `conveyor resume` for a Pause's onResume), `conveyor files get` and `conveyor purge`."""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from conveyor.cli.output import err_console, print_json
from conveyor.common.clock import parse_duration, utcnow
from conveyor.common.errors import InputError, UsageError
from conveyor.common.flow import Flow
from conveyor.common.input_types import InputType
from conveyor.common.resume_files import ResumeFile
from conveyor.common.storage import FileNotFound, StorageURIError, default_storage, key_of
from conveyor.common.storage.retention import purge as purge_storage
from conveyor.common.storage.uri import ExecutionScope


def upload_inputs(flow: Flow, given: dict[str, Any], execution_id: str) -> dict[str, Any]:
    """`given` with each FILE input's `@path` uploaded and replaced by its storage URI."""
    files = {i.id for i in flow.inputs if i.type == InputType.FILE}
    scope = ExecutionScope(flow.namespace, flow.id, execution_id)
    uploaded = dict(given)
    for name, value in given.items():
        if name not in files or not isinstance(value, str) or not value.startswith("@"):
            continue
        path = Path(value[1:])
        try:
            with path.open("rb") as data:
                uri = scope.input_file(name, path.name)
                default_storage().put(uri, data)
        except OSError as error:
            raise InputError(f"input '{name}': cannot read {path}: {error.strerror or error}") from None
        uploaded[name] = uri
    return uploaded


def resume_files(given: dict[str, str]) -> dict[str, Any]:
    """`conveyor resume --input`'s values: `NAME=@PATH` a file for a FILE onResume input (uploaded under the
    execution's prefix once the resume's inputs fit; for another type it stays the text `@PATH`), the others
    text."""
    files = {
        name: ResumeFile(Path(value[1:]).name, Path(value[1:]), literal=value)
        for name, value in given.items()
        if value.startswith("@")
    }
    return {"inputs": {k: v for k, v in given.items() if k not in files}, "files": files}


def get(uri: str, output: str | None) -> int:
    """Copy the file at `uri` to `output` (else stdout)."""
    try:
        key_of(uri)
        source = default_storage().open(uri)
    except StorageURIError as error:
        raise UsageError(f"URI: {error}") from None
    except FileNotFound:
        err_console.print(f"[red]no file at {uri}[/red]")
        return 1
    with source:
        if output is None:
            shutil.copyfileobj(source, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with Path(output).open("wb") as out:
                shutil.copyfileobj(source, out)
    return 0


def purge(older_than: str, output: str) -> int:
    """Delete the files of executions older than `older_than` (ISO-8601, e.g. P30D)."""
    try:
        age = parse_duration(older_than)
    except ValueError as error:
        raise UsageError(f"--older-than: {error}") from None
    if not isinstance(age, timedelta) or age <= timedelta(0):
        raise UsageError(f"--older-than: expected a positive ISO-8601 duration such as P30D, got {older_than!r}")
    deleted = purge_storage(default_storage(), utcnow() - age)
    if output == "json":
        print_json({"executions": len(deleted), "files": sum(deleted.values()), "prefixes": sorted(deleted)})
    else:
        err_console.print(f"purged the files of {len(deleted)} executions ({sum(deleted.values())} files)")
    return 0
