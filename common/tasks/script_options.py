"""What every script-like task shares (shell and python, Commands and Script): commands run before the main
ones, the task runner (only the reference's Process runner: the worker's own processes) and the container
image, which a Process runner has no use for."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from conveyor.common.base import Spec

PROCESS = "io.kestra.plugin.core.runner.Process"


class ProcessTaskRunner(Spec):
    """`taskRunner: {type: io.kestra.plugin.core.runner.Process}`: run as a process of the worker (the only
    runner here; a Docker or Kubernetes runner is refused when the flow loads)."""

    type: Literal["io.kestra.plugin.core.runner.Process"]


class IfExists(StrEnum):
    """What copying a namespace file does when its path is already in the working directory (the reference's
    `FileExistComportment`)."""

    OVERWRITE = "OVERWRITE"
    FAIL = "FAIL"
    WARN = "WARN"
    IGNORE = "IGNORE"


class NamespaceFilesOptions(Spec):
    """`namespaceFiles`: copy namespace files into the working directory before the commands run (those matching
    an `include` glob, all without one, and no `exclude` glob). `namespaces`: whose files, in order (default:
    the flow's; each may be an expression); a later namespace's file overwrites an earlier one's of the same
    path unless `ifExists` says otherwise. `folderPerNamespace`: each namespace's files under a folder named
    after it (`company.team/scripts/a.py`) instead of at the root."""

    enabled: bool = True
    include: list[str] = []
    exclude: list[str] = []
    namespaces: list[str] = []
    if_exists: IfExists = IfExists.OVERWRITE
    folder_per_namespace: bool = False


class ScriptOptions(Spec):
    # Rendered and run first, in the same interpreter invocation (e.g. `pip install ...`).
    before_commands: list[str] = []
    task_runner: ProcessTaskRunner | None = None
    # The reference's deprecated spelling of the task runner: only PROCESS (DOCKER is refused when the flow loads).
    runner: Literal["PROCESS"] | None = None
    # Accepted for the reference's flows; the Process runner ignores it (with a WARN log line).
    container_image: str | None = None
    # The reference's `failFast`: `set -e` first when the interpreter is a POSIX shell.
    fail_fast: bool = True
    interpreter: list[str] = Field(default=["/bin/sh", "-c"], min_length=1)
    # The attempt's working directory is where files meet: `inputFiles` are written there before the commands
    # run (name -> inline content, or a kestra:/// URI whose file is copied), and the files matching the
    # `outputFiles` globs are stored afterwards, their URIs in `outputs.<task>.outputFiles['name']`.
    input_files: dict[str, str] = {}
    output_files: list[str] = []
    # Copied first, so that `inputFiles` of the same name win.
    namespace_files: NamespaceFilesOptions | None = None
