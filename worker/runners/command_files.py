"""Commands' (and a WorkingDirectory's) files: `inputFiles` written into the attempt's working directory before
its commands run, and the files matching its `outputFiles` globs stored in the internal storage after, under
the task run's URIs.

An input file's value is its content, or a `kestra:///` URI of a file of the same execution, which is copied
(streamed, not loaded).
Names and globs stay inside the working directory: `../x` or `/etc/x` is refused.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from conveyor.common import nsfiles
from conveyor.common.namespace_access import NamespaceAccessDenied, check_files
from conveyor.common.storage import FileNotFound, Storage, StorageError, StorageURIError, default_storage
from conveyor.common.storage.uri import ExecutionScope, is_storage_uri, readable
from conveyor.common.tasks.script_options import IfExists, NamespaceFilesOptions
from conveyor.worker.runners.base import RunContext

_CHUNK = 1 << 20


class FileProblem(ValueError):
    """An input file or output glob that cannot be honoured; the attempt fails with this message."""


class WithFiles(Protocol):
    """A task with files around its run: Commands and the scripts, WorkingDirectory."""

    @property
    def input_files(self) -> Mapping[str, str | None] | str: ...

    @property
    def output_files(self) -> list[str]: ...

    @property
    def namespace_files(self) -> NamespaceFilesOptions | None: ...


def _inside(workdir: Path, name: str, what: str) -> Path:
    path = (workdir / name).resolve()
    if not name or os.path.isabs(name) or not path.is_relative_to(workdir.resolve()):
        raise FileProblem(f"{what} {name!r} must be a relative path inside the working directory")
    return path


def _scope(ctx: RunContext) -> ExecutionScope:
    run = ctx.job.task_run
    return ExecutionScope(run.namespace, run.flow_id, run.execution_id)


def _input_files(task: WithFiles, ctx: RunContext) -> dict[str, Any]:
    """`inputFiles` rendered: a map, or an expression (a string) that renders to a JSON object, as the reference."""
    if not isinstance(task.input_files, str):
        return dict(ctx.render(dict(task.input_files)))
    rendered = ctx.render(task.input_files)
    try:
        parsed = json.loads(rendered) if isinstance(rendered, str) else rendered
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise FileProblem(f"must be a map of file names to contents, or render to a JSON object, got {rendered!r}")
    return parsed


def write_inputs(task: WithFiles, ctx: RunContext, workdir: Path, storage: Storage) -> None:
    scope = _scope(ctx)
    for name, value in _input_files(task, ctx).items():
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


def store_outputs(task: WithFiles, ctx: RunContext, workdir: Path, storage: Storage) -> dict[str, str]:
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


_FAILURES = (FileProblem, nsfiles.NamespaceFileError, NamespaceAccessDenied, StorageError, StorageURIError, OSError)


def copy_namespace_files(task: WithFiles, ctx: RunContext, workdir: Path, storage: Storage) -> int:
    """The namespace files that `namespaceFiles` selects, copied into the working directory, namespace after
    namespace (the flow's by default); how many were written."""
    options = task.namespace_files
    if options is None or not options.enabled:
        return 0
    namespaces = [str(n) for n in ctx.render(options.namespaces)] or [ctx.job.task_run.namespace]
    include = [str(p) for p in ctx.render(options.include)]
    exclude = [str(p) for p in ctx.render(options.exclude)]
    written = 0
    for namespace in namespaces:
        check_files(namespace, ctx.job.task_run.namespace)
        paths = nsfiles.selected([f.path for f in nsfiles.files(namespace, storage=storage)], include, exclude)
        for name in paths:
            target = f"{namespace}/{name}" if options.folder_per_namespace else name
            path = _inside(workdir, target, "namespaceFiles:")
            if path.exists() and not _replaces(options.if_exists, target, ctx):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with nsfiles.open_file(namespace, name, storage) as source, path.open("wb") as out:
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
            written += 1
    return written


def _replaces(if_exists: IfExists, target: str, ctx: RunContext) -> bool:
    """Whether a namespace file replaces the file already at `target`; FAIL raises."""
    if if_exists == IfExists.FAIL:
        raise FileProblem(f"{target!r} is already in the working directory (ifExists: FAIL)")
    if if_exists == IfExists.WARN:
        ctx.log("WARN", f"namespaceFiles: {target!r} is already in the working directory: kept (ifExists: WARN)")
    return if_exists == IfExists.OVERWRITE


def prepare(task: WithFiles, ctx: RunContext, workdir: Path) -> str | None:
    """Write the namespace files and the input files; None, or why the attempt fails."""
    if not task.input_files and not (task.namespace_files and task.namespace_files.enabled):
        return None
    storage = default_storage()
    for what, step in (("namespaceFiles", copy_namespace_files), ("inputFiles", write_inputs)):
        try:
            step(task, ctx, workdir, storage)
        except FileNotFound as missing:
            return f"{what}: no file at {missing}"
        except _FAILURES as error:
            text = str(error)
            return text if text.startswith(f"{what}:") else f"{what}: {text}"
    return None


def collect(task: WithFiles, ctx: RunContext, workdir: Path) -> tuple[dict[str, Any], str | None]:
    """The `outputFiles` output (when the task has globs) and None, or why the attempt fails."""
    if not task.output_files or ctx.stopped.is_set():
        return {}, None
    try:
        return {"outputFiles": store_outputs(task, ctx, workdir, default_storage())}, None
    except _FAILURES as error:
        return {}, f"outputFiles: {error}"
