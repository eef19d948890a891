"""Commands' files: `inputFiles` written into the attempt's working directory before its commands run, and the
files matching its `outputFiles` globs stored in the internal storage after, under the task run's URIs.

An input file's value is its content, or a `kestra:///` URI of a file of the same execution, which is copied
(streamed, not loaded).
Names and globs stay inside the working directory: `../x` or `/etc/x` is refused.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from conveyor.common import nsfiles
from conveyor.common.storage import FileNotFound, Storage, StorageError, StorageURIError, default_storage
from conveyor.common.storage.uri import ExecutionScope, is_storage_uri, readable
from conveyor.common.tasks.core import Commands
from conveyor.worker.runners.base import RunContext

_CHUNK = 1 << 20


class FileProblem(ValueError):
    """An input file or output glob that cannot be honoured; the attempt fails with this message."""


def _inside(workdir: Path, name: str, what: str) -> Path:
    path = (workdir / name).resolve()
    if not name or os.path.isabs(name) or not path.is_relative_to(workdir.resolve()):
        raise FileProblem(f"{what} {name!r} must be a relative path inside the working directory")
    return path


def _scope(ctx: RunContext) -> ExecutionScope:
    run = ctx.job.task_run
    return ExecutionScope(run.namespace, run.flow_id, run.execution_id)


def write_inputs(task: Commands, ctx: RunContext, workdir: Path, storage: Storage) -> None:
    scope = _scope(ctx)
    for name, value in ctx.render(task.input_files).items():
        path = _inside(workdir, str(name), "inputFiles:")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "" if value is None else str(value)
        if is_storage_uri(text):
            if not readable(text, scope, ctx.job.context.get("trigger")):  # as read(): the execution's own files
                raise FileProblem(f"{text} is not a file of this execution (expected a URI under {scope.prefix})")
            with storage.open(text) as source, path.open("wb") as out:
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
        else:
            path.write_text(text, encoding="utf-8")


def store_outputs(task: Commands, ctx: RunContext, workdir: Path, storage: Storage) -> dict[str, str]:
    """name (relative to the working directory) -> URI, for every file matching an `outputFiles` glob."""
    run = ctx.job.task_run
    scope = _scope(ctx)
    stored: dict[str, str] = {}
    for pattern in ctx.render(task.output_files):
        _inside(workdir, str(pattern).replace("*", "x").replace("?", "x"), "outputFiles:")
        for match in sorted(glob.glob(str(pattern), root_dir=workdir, recursive=True)):
            path = workdir / match
            if not path.is_file() or match in stored:
                continue
            uri = scope.task_file(run.task_id, run.id, match)
            with path.open("rb") as data:
                storage.put(uri, data)
            stored[match] = uri
    return stored


_FAILURES = (FileProblem, nsfiles.NamespaceFileError, StorageError, StorageURIError, OSError)


def copy_namespace_files(task: Commands, ctx: RunContext, workdir: Path, storage: Storage) -> int:
    """The flow's namespace files that `namespaceFiles` selects, copied into the working directory."""
    options = task.namespace_files
    if options is None or not options.enabled:
        return 0
    namespace = ctx.job.task_run.namespace
    include = [str(p) for p in ctx.render(options.include)]
    exclude = [str(p) for p in ctx.render(options.exclude)]
    paths = nsfiles.selected([f.path for f in nsfiles.files(namespace, storage=storage)], include, exclude)
    for name in paths:
        path = _inside(workdir, name, "namespaceFiles:")
        path.parent.mkdir(parents=True, exist_ok=True)
        with nsfiles.open_file(namespace, name, storage) as source, path.open("wb") as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
    return len(paths)


def prepare(task: Commands, ctx: RunContext, workdir: Path) -> str | None:
    """Write the namespace files and the input files; None, or why the attempt fails."""
    if not task.input_files and not (task.namespace_files and task.namespace_files.enabled):
        return None
    try:
        copy_namespace_files(task, ctx, workdir, default_storage())
        write_inputs(task, ctx, workdir, default_storage())
    except FileNotFound as missing:
        return f"inputFiles: no file at {missing}"
    except _FAILURES as error:
        return f"inputFiles: {error}"
    return None


def collect(task: Commands, ctx: RunContext, workdir: Path) -> tuple[dict[str, Any], str | None]:
    """The `outputFiles` output (when the task has globs) and None, or why the attempt fails."""
    if not task.output_files or ctx.stopped.is_set():
        return {}, None
    try:
        return {"outputFiles": store_outputs(task, ctx, workdir, default_storage())}, None
    except _FAILURES as error:
        return {}, f"outputFiles: {error}"
