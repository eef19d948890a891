"""Namespace files on the internal storage: their paths, listing, deletion, `read('path')` and the script
tasks' `namespaceFiles` (copied into the working directory, filtered by include/exclude)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.common import nsfiles
from conveyor.common.errors import RenderError
from conveyor.common.render import render_value
from conveyor.common.state import StateType
from conveyor.common.storage import FileNotFound, default_storage
from conveyor.common.tasks.registry import task_classes
from conveyor.worker.runners import runner_for
from conveyor.worker.testing import run_context

NS = "company.team"
COMMANDS = "io.kestra.plugin.scripts.shell.Commands"


@pytest.fixture(autouse=True)
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONVEYOR_STORAGE_TYPE", "local")
    monkeypatch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(tmp_path / "storage"))
    default_storage.cache_clear()
    yield
    default_storage.cache_clear()


def put(path: str, data: bytes, namespace: str = NS) -> None:
    nsfiles.put(namespace, path, io.BytesIO(data))


def test_files_live_under_the_namespace_folders_as_in_the_reference() -> None:
    assert nsfiles.uri(NS, "/scripts/etl.py") == "kestra:///company/team/_files/scripts/etl.py"
    put("scripts/etl.py", b"print(1)")
    put("other.txt", b"x", namespace="company.team.child")  # another namespace's, not listed
    assert [f.path for f in nsfiles.files(NS)] == ["scripts/etl.py"]
    assert [f.path for f in nsfiles.files(NS, "scripts")] == ["scripts/etl.py"]
    assert nsfiles.files(NS).__next__().size == 8


@pytest.mark.parametrize(
    "bad", ["", "/", "a/../b", "..", "a//b", "./a", "x" * 1001, "a\x00b", "a/\nb", "y" * 256, "//a"]
)
def test_a_path_that_leaves_its_folder_is_refused(bad: str) -> None:
    with pytest.raises(nsfiles.NamespaceFileError, match="path"):
        nsfiles.uri(NS, bad)


@pytest.mark.parametrize("path", ["a", "/a/b.txt", ".env", "..x", "a/.b/c", "é" * 255, "x" * 255])
def test_the_api_pattern_accepts_what_clean_path_accepts(path: str) -> None:
    assert re.fullmatch(nsfiles.PATH_PATTERN, path) and nsfiles.clean_path(path)


@pytest.mark.parametrize("path", ["", "/", "a/../b", "..", ".", "a//b", "./a", "a\x00b", "y" * 256, "//a", "a/"])
def test_the_api_pattern_refuses_what_clean_path_refuses(path: str) -> None:
    assert not re.fullmatch(nsfiles.PATH_PATTERN, path)
    with pytest.raises(nsfiles.NamespaceFileError):
        nsfiles.clean_path(path)


def test_a_name_longer_than_the_file_system_takes_is_no_file() -> None:
    long = "é" * 200  # 400 bytes: more than a file system name holds
    assert list(nsfiles.files(NS, long)) == [] and nsfiles.delete(NS, long) == 0
    with pytest.raises(FileNotFound):
        nsfiles.open_file(NS, long)


def test_delete_removes_a_file_or_a_folder() -> None:
    for path in ("sql/a.sql", "sql/b.sql", "keep.txt"):
        put(path, b"-")
    assert nsfiles.delete(NS, "sql/a.sql") == 1
    assert nsfiles.delete(NS, "sql") == 1
    assert nsfiles.delete(NS, "nothere") == 0
    assert [f.path for f in nsfiles.files(NS)] == ["keep.txt"]
    with pytest.raises(FileNotFound):
        nsfiles.open_file(NS, "sql/b.sql")


def test_include_and_exclude_globs_select_files() -> None:
    paths = ["a.py", "lib/b.py", "lib/c.txt", "data/d.csv"]
    assert nsfiles.selected(paths, [], []) == paths
    assert nsfiles.selected(paths, ["**.py"], []) == ["a.py", "lib/b.py"]
    assert nsfiles.selected(paths, ["lib/*"], ["*.txt"]) == ["lib/b.py"]
    assert nsfiles.selected(paths, ["**/*.csv"], []) == ["data/d.csv"]


def test_read_of_a_path_reads_the_flow_namespace_file() -> None:
    put("queries/q.sql", b"select 1")
    context = {"flow": {"namespace": NS, "id": "etl"}, "execution": {"id": "e1"}}
    assert render_value("{{ read('queries/q.sql') }}", context) == "select 1"
    other = {"flow": {"namespace": "elsewhere", "id": "etl"}, "execution": {"id": "e1"}}
    with pytest.raises(RenderError, match=re.escape("no namespace file 'queries/q.sql' of elsewhere")):
        render_value("{{ read('queries/q.sql') }}", other)
    # the examples' own failure before `conveyor nsfiles upload examples/nsfiles`: the message says what to do
    with pytest.raises(RenderError, match=re.escape("(upload it: `conveyor nsfiles upload DIR --namespace elsewhere`")):
        render_value("{{ read('queries/q.sql') }}", other)
    with pytest.raises(RenderError, match=re.escape("empty, '.' or '..' segments")):
        render_value("{{ read('../x') }}", context)


def test_commands_get_the_selected_namespace_files_in_their_working_directory() -> None:
    put("scripts/hello.sh", b"echo hello from ns")
    put("scripts/skip.txt", b"no")
    put("config.json", b"{}")
    spec: dict[str, Any] = {
        "id": "c",
        "type": COMMANDS,
        "namespaceFiles": {"enabled": True, "include": ["scripts/**", "config.json"], "exclude": ["**.txt"]},
        "inputFiles": {"config.json": "from inputFiles"},
        "commands": ["sh scripts/hello.sh", "test ! -e scripts/skip.txt", "cat config.json"],
    }
    ctx, logs = run_context(spec)
    ctx.job.task_run.namespace = NS
    task = task_classes()[COMMANDS].model_validate(spec)
    outcome = runner_for(task).run(task, ctx)
    assert outcome.state is StateType.SUCCESS, [e.message for e in logs]
    assert [e.message for e in logs] == ["hello from ns", "from inputFiles"]  # inputFiles win


def test_disabled_namespace_files_are_not_copied() -> None:
    put("x.txt", b"x")
    spec: dict[str, Any] = {
        "id": "c",
        "type": COMMANDS,
        "namespaceFiles": {"enabled": False},
        "commands": ["test ! -e x.txt"],
    }
    ctx, _ = run_context(spec)
    ctx.job.task_run.namespace = NS
    task = task_classes()[COMMANDS].model_validate(spec)
    assert runner_for(task).run(task, ctx).state is StateType.SUCCESS


def test_every_store_keeps_a_revision_and_deleting_the_file_removes_them() -> None:
    assert [nsfiles.put_revision(NS, "q.sql", io.BytesIO(b))[1] for b in (b"one", b"two!")] == [1, 2]
    assert [(r.revision, r.size) for r in nsfiles.revisions(NS, "q.sql")] == [(1, 3), (2, 4)]
    with nsfiles.open_revision(NS, "q.sql", 1) as first:
        assert first.read() == b"one"
    with pytest.raises(FileNotFound):
        nsfiles.open_revision(NS, "q.sql", 3)
    assert [f.path for f in nsfiles.files(NS)] == ["q.sql"]  # revisions are not files of the namespace
    assert nsfiles.delete(NS, "q.sql") == 1 and nsfiles.revisions(NS, "q.sql") == []


def test_a_file_stored_before_revisions_were_kept_becomes_revision_one() -> None:
    default_storage().put(nsfiles.uri(NS, "old.txt"), io.BytesIO(b"before"))
    assert nsfiles.put_revision(NS, "old.txt", io.BytesIO(b"after"))[1] == 2
    with nsfiles.open_revision(NS, "old.txt", 1) as first:
        assert first.read() == b"before"


def test_deleting_a_folder_removes_the_revisions_of_its_files() -> None:
    put("sql/a.sql", b"a")
    put("sql/b.sql", b"b")
    put("sqlx.txt", b"kept")
    assert nsfiles.delete(NS, "sql") == 2
    assert nsfiles.revisions(NS, "sql/a.sql") == [] and len(nsfiles.revisions(NS, "sqlx.txt")) == 1
