"""`conveyor nsfiles upload|list|get|delete --namespace NS …`: a namespace's files, straight on the internal
storage (`common/nsfiles.py`; like `conveyor files get`, the CLI uses the storage the services use,
`CONVEYOR_STORAGE_*`).

`upload DIR` stores every file under DIR (its sub-folders too) at its path relative to DIR, under `--to`
when given; `upload FILE` stores the one file at its name (or `--to`). `get PATH` writes the file to stdout
or `--output FILE` (`--revision N`: that revision); a missing one exits 1. `revisions PATH` lists the file's
revisions. `delete PATH` removes a file or a whole folder, with their revisions.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from conveyor.cli.output import console, err_console, print_json, table
from conveyor.common import nsfiles
from conveyor.common.errors import UsageError
from conveyor.common.storage import FileNotFound


def nsfiles_command(
    action: str, namespace: str, path: str | None, to: str | None, output: str | None, revision: int | None = None
) -> int:
    if revision is not None and (action != "get" or revision < 1):
        raise UsageError("--revision: a revision number (1 or more), with `get` only")
    try:
        if action == "upload":
            return upload(namespace, Path(_required(path, "upload DIR")), to)
        if action == "list":
            return list_files(namespace, path or "", output)
        if action == "get":
            return get(namespace, _required(path, "get PATH"), output, revision)
        if action == "revisions":
            return list_revisions(namespace, _required(path, "revisions PATH"), output)
        return delete(namespace, _required(path, "delete PATH"))
    except nsfiles.NamespaceFileError as exc:
        raise UsageError(str(exc)) from None


def _required(value: str | None, what: str) -> str:
    if not value:
        raise UsageError(f"nsfiles {what}: the path is required")
    return value


def upload(namespace: str, source: Path, to: str | None) -> int:
    if source.is_file():
        pairs = [(source, to or source.name)]
    elif source.is_dir():
        prefix = to.strip("/") + "/" if to and to.strip("/") else ""
        pairs = [(f, prefix + f.relative_to(source).as_posix()) for f in sorted(source.rglob("*")) if f.is_file()]
    else:
        raise UsageError(f"nsfiles upload: {source} is neither a file nor a folder")
    for local, target in pairs:
        with local.open("rb") as data:
            size, revision = nsfiles.put_revision(namespace, target, data)
        console.print(f"uploaded {target} ({size} bytes, revision {revision})")
    console.print(f"{len(pairs)} file(s) in namespace {namespace}")
    return 0


def list_files(namespace: str, folder: str, output: str | None) -> int:
    found = list(nsfiles.files(namespace, folder))
    if output == "json":
        print_json([f.to_dict() for f in found])
        return 0
    rows = [[f.path, str(f.size), f.modified.isoformat()] for f in found]
    console.print(table(f"files of namespace {namespace}", ["path", "size", "updated"], rows))
    return 0


def list_revisions(namespace: str, path: str, output: str | None) -> int:
    found = nsfiles.revisions(namespace, path)
    if not found:
        err_console.print(f"no revisions of {path!r} in namespace {namespace!r}", style="red")
        return 1
    if output == "json":
        print_json([r.to_dict() for r in found])
        return 0
    rows = [[str(r.revision), str(r.size), r.modified.isoformat()] for r in found]
    console.print(table(f"revisions of {path} in {namespace}", ["revision", "size", "updated"], rows))
    return 0


def get(namespace: str, path: str, output: str | None, revision: int | None = None) -> int:
    try:
        if revision is None:
            stream = nsfiles.open_file(namespace, path)
        else:
            stream = nsfiles.open_revision(namespace, path, revision)
    except FileNotFound:
        which = "" if revision is None else f" revision {revision}"
        err_console.print(f"no file {path!r}{which} in namespace {namespace!r}", style="red")
        return 1
    with stream:
        if output:
            with open(output, "wb") as out:
                shutil.copyfileobj(stream, out)
        else:
            shutil.copyfileobj(stream, sys.stdout.buffer)
            sys.stdout.flush()
    return 0


def delete(namespace: str, path: str) -> int:
    removed = nsfiles.delete(namespace, path)
    if not removed:
        err_console.print(f"no file or folder {path!r} in namespace {namespace!r}", style="red")
        return 1
    console.print(f"deleted {removed} file(s) at {path} in namespace {namespace}")
    return 0
