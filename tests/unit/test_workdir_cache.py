"""A WorkingDirectory's `cache: {patterns, ttl}` on the local internal storage: the matching files of one run
are in the next run's fresh directory; an archive past its ttl is deleted and not used; an unchanged cache is
not written again; a failed group leaves the archive alone; an entry leaving the directory is skipped. End to
end on the real servers: tests/e2e/test_task_catalogue.py (examples/working-directory-cache.yaml)."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.loader import load_flow
from conveyor.common.state import StateType
from conveyor.common.storage import default_storage
from conveyor.common.storage.settings import StorageSettings
from tests.unit.test_nsfiles import storage  # noqa: F401  (the local storage of each test, autouse)
from tests.unit.test_workdir_files import run_group

S = StateType
WD = "io.kestra.plugin.core.flow.WorkingDirectory"
SH = "io.kestra.plugin.scripts.shell.Commands"
URI = "kestra:///company/team/test/_cache/wd/cache.zip"  # make_job's namespace and flow, the task's id


def group(commands: list[str], **cache: Any) -> dict[str, Any]:
    return {
        "id": "wd",
        "type": WD,
        "cache": {"patterns": ["deps/**", "*.lock"], **cache},
        "tasks": [{"id": "step", "type": SH, "commands": commands}],
    }


def stored_path() -> Path:
    return Path(StorageSettings().local_root) / URI.removeprefix("kestra:///")


def archived() -> list[str]:
    with default_storage().open(URI) as stream, zipfile.ZipFile(io.BytesIO(stream.read())) as archive:
        return sorted(archive.namelist())


INSTALL = ["mkdir -p deps/sub", "echo lib > deps/sub/lib.txt", "echo 1 > app.lock", "echo tmp > scratch.txt"]


def test_the_matching_files_of_one_run_are_in_the_next_runs_directory() -> None:
    first, finals = run_group(group(["test ! -e deps", *INSTALL]))
    assert first.state == S.SUCCESS, [r.error for r in finals]
    assert archived() == ["app.lock", "deps/sub/lib.txt"]
    second, finals = run_group(group(["grep -q lib deps/sub/lib.txt", "test -e app.lock", "test ! -e scratch.txt"]))
    assert second.state == S.SUCCESS, [r.error for r in finals]


def test_an_unchanged_cache_is_not_written_again_and_a_changed_one_is() -> None:
    assert run_group(group(INSTALL))[0].state == S.SUCCESS
    past = time.time() - 3600
    os.utime(stored_path(), (past, past))
    assert run_group(group(["test -e app.lock"]))[0].state == S.SUCCESS
    assert stored_path().stat().st_mtime == past  # nothing changed: kept as it was
    assert run_group(group(["echo more > deps/new.txt"]))[0].state == S.SUCCESS
    assert stored_path().stat().st_mtime > past and "deps/new.txt" in archived()


def test_an_archive_past_its_ttl_is_deleted_and_the_directory_starts_empty() -> None:
    assert run_group(group(INSTALL, ttl="PT1M"))[0].state == S.SUCCESS
    past = time.time() - 3600
    os.utime(stored_path(), (past, past))
    result, finals = run_group(group(["test ! -e app.lock"], ttl="PT1M"))
    assert result.state == S.SUCCESS, [r.error for r in finals]
    assert not stored_path().exists()  # deleted, and nothing matched this time to archive again


def test_a_failed_group_leaves_the_archive_alone() -> None:
    assert run_group(group(INSTALL))[0].state == S.SUCCESS
    failed, _ = run_group(group(["echo changed > deps/other.txt", "exit 3"]))
    assert failed.state == S.FAILED
    assert archived() == ["app.lock", "deps/sub/lib.txt"]


def test_an_entry_leaving_the_directory_is_skipped(tmp_path: Path) -> None:
    crafted = io.BytesIO()
    with zipfile.ZipFile(crafted, "w") as archive:
        archive.writestr("../escaped.txt", "no")
        archive.writestr("deps/ok.txt", "yes")
    crafted.seek(0)
    default_storage().put(URI, crafted)
    result, finals = run_group(group(["grep -q yes deps/ok.txt", "test ! -e ../escaped.txt"]))
    assert result.state == S.SUCCESS, [r.error for r in finals]


def test_a_cache_needs_patterns_and_takes_a_duration() -> None:
    flow = "id: f\nnamespace: a\ntasks:\n  - id: wd\n    type: " + WD + "\n    cache: {cache}\n    tasks:\n"
    flow += "      - {id: s, type: " + SH + ", commands: [x]}\n"
    assert load_flow(flow.replace("{cache}", "{patterns: [x], ttl: PT5M}")).tasks[0] is not None
    for bad in ("{ttl: PT5M}", "{patterns: []}", "{patterns: [x], ttl: soon}", "{patterns: [x], size: 1}"):
        with pytest.raises(FlowError, match="cache"):
            load_flow(flow.replace("{cache}", bad))
