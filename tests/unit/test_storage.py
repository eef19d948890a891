"""The internal storage on its local-directory backend: URIs, files, retention, `read()`, and Commands'
`inputFiles`/`outputFiles` meeting in the attempt's working directory."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from conveyor.common.clock import utcnow
from conveyor.common.errors import RenderError
from conveyor.common.render import render_value
from conveyor.common.state import StateType
from conveyor.common.storage import FileNotFound, StorageURIError, default_storage, key_of
from conveyor.common.storage.local import LocalStorage
from conveyor.common.storage.retention import execution_prefix, purge
from conveyor.common.storage.uri import ExecutionScope
from conveyor.common.tasks.core import Commands
from conveyor.worker.runners.commands import CommandsRunner
from conveyor.worker.testing import run_context

SCOPE = ExecutionScope("company.team", "etl", "exec1")


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStorage]:
    """The process's storage (`default_storage()`) on a fresh directory."""
    monkeypatch.setenv("CONVEYOR_STORAGE_TYPE", "local")
    monkeypatch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(tmp_path / "storage"))
    monkeypatch.setenv("CONVEYOR_STORAGE_READ_LIMIT", "64")
    default_storage.cache_clear()
    storage = default_storage()
    assert isinstance(storage, LocalStorage)
    yield storage
    default_storage.cache_clear()


def test_uris_follow_the_reference_scheme() -> None:
    uri = SCOPE.task_file("extract", "tr1", "out/rows.csv")
    assert uri == "kestra:///company/team/etl/executions/exec1/tasks/extract/tr1/out/rows.csv"
    assert (
        SCOPE.input_file("data", "orders.csv") == "kestra:///company/team/etl/executions/exec1/inputs/data/orders.csv"
    )
    assert SCOPE.owns(uri)
    assert not SCOPE.owns("kestra:///company/team/etl/executions/exec2/tasks/a/b/c")
    assert not SCOPE.owns("kestra:///company/team/etl/executions/exec1/../exec2/tasks/a/b/c")
    assert not SCOPE.owns("file:///etc/passwd")


@pytest.mark.parametrize("bad", ["/etc/passwd", "kestra://host/x", "kestra:///a/../b", "kestra:///a//b", "kestra:///"])
def test_what_is_not_a_storage_uri_is_refused(bad: str) -> None:
    with pytest.raises(StorageURIError):
        key_of(bad)


def test_a_file_name_cannot_leave_its_folder() -> None:
    with pytest.raises(StorageURIError, match="leaves its folder"):
        SCOPE.task_file("t", "r", "../../x")


def test_put_open_list_delete(local: LocalStorage) -> None:
    uri = SCOPE.task_file("t", "r", "a.txt")
    assert local.put(uri, io.BytesIO(b"hello")) == 5
    with local.open(uri) as stream:
        assert stream.read() == b"hello"
    assert local.size(uri) == 5
    assert [f.uri for f in local.files(SCOPE.prefix)] == [uri]
    assert local.delete(SCOPE.prefix) == 1
    with pytest.raises(FileNotFound):
        local.open(uri)


def test_purge_removes_only_executions_older_than_the_cutoff(local: LocalStorage) -> None:
    old, new = ExecutionScope("n", "f", "old"), ExecutionScope("n", "f", "new")
    for scope in (old, new):
        local.put(scope.task_file("t", "r", "x"), io.BytesIO(b"x"))
        local.put(scope.input_file("i", "y"), io.BytesIO(b"y"))
    month_ago = time.time() - 31 * 86400
    for path in (local.root / "n/f/executions/old").rglob("*"):
        os.utime(path, (month_ago, month_ago))
    deleted = purge(local, utcnow() - timedelta(days=30))
    assert deleted == {old.prefix: 2}
    assert [execution_prefix(f.uri) for f in local.files("kestra:///")] == [new.prefix, new.prefix]


def test_read_returns_the_content_and_refuses_past_its_limit(local: LocalStorage) -> None:
    small, big = SCOPE.task_file("t", "r", "small.txt"), SCOPE.task_file("t", "r", "big.txt")
    local.put(small, io.BytesIO(b"id,total\n1,3\n"))
    local.put(big, io.BytesIO(b"x" * 65))
    context = {"flow": {"namespace": "company.team", "id": "etl"}, "execution": {"id": "exec1"}}
    assert render_value("{{ read(uri) }}", {**context, "uri": small}) == "id,total\n1,3\n"
    with pytest.raises(RenderError, match="65 bytes, more than the limit of 64"):
        render_value("{{ read(uri) }}", {**context, "uri": big})
    elsewhere = ExecutionScope("company.team", "etl", "exec2").task_file("t", "r", "x.txt")
    local.put(elsewhere, io.BytesIO(b"not yours"))
    with pytest.raises(RenderError, match="is not a file of this execution"):
        render_value("{{ read(uri) }}", {**context, "uri": elsewhere})
    with pytest.raises(RenderError, match="malformed internal storage URI"):
        render_value("{{ read('kestra:///a/../b') }}", {})
    # a path is a namespace file's (never a path of the machine): there is none here
    with pytest.raises(RenderError, match=r"no namespace file 'etc/passwd' of company\.team"):
        render_value("{{ read('/etc/passwd') }}", context)


def test_file_size_of_a_file_of_this_execution_only(local: LocalStorage) -> None:
    """The reference's `fileSize(uri)` (FileSizeFunctionTest): bytes of a file of the current execution."""
    small = SCOPE.task_file("t", "r", "small.txt")
    local.put(small, io.BytesIO(b"id,total\n1,3\n"))
    context = {"flow": {"namespace": "company.team", "id": "etl"}, "execution": {"id": "exec1"}}
    assert render_value("{{ fileSize(uri) }}", {**context, "uri": small}) == "13"
    elsewhere = ExecutionScope("company.team", "etl", "exec2").task_file("t", "r", "x.txt")
    local.put(elsewhere, io.BytesIO(b"not yours"))
    with pytest.raises(RenderError, match="is not a file of this execution"):
        render_value("{{ fileSize(uri) }}", {**context, "uri": elsewhere})
    with pytest.raises(RenderError, match="Unable to create the URI from the path /etc/passwd"):
        render_value("{{ fileSize('/etc/passwd') }}", context)
    with pytest.raises(RenderError, match="no file at"):
        render_value("{{ fileSize(uri) }}", {**context, "uri": SCOPE.task_file("t", "r", "none.txt")})


def _commands(**props: object) -> tuple[Commands, object]:
    spec = {"id": "sh", "type": "io.kestra.plugin.scripts.shell.Commands", **props}
    context = {
        "flow": {"namespace": "company.team", "id": "etl"},
        "execution": {"id": "exec1"},
        "inputs": {"data": SCOPE.input_file("data", "orders.csv")},
    }
    ctx, _ = run_context(spec, context)
    # the job's task run belongs to SCOPE's execution, as the context says
    run = ctx.job.task_run.model_copy(update={"namespace": "company.team", "flow_id": "etl", "execution_id": "exec1"})
    ctx.job = ctx.job.model_copy(update={"task_run": run})
    return Commands.model_validate(spec), ctx


def test_commands_read_input_files_and_store_output_files(local: LocalStorage) -> None:
    local.put(SCOPE.input_file("data", "orders.csv"), io.BytesIO(b"1\n2\n3\n"))
    task, ctx = _commands(
        inputFiles={"orders.csv": "{{ inputs.data }}", "note.txt": "inline {{ flow.id }}"},
        outputFiles=["*.out", "sub/**"],
        commands=["wc -l < orders.csv > count.out", "mkdir sub && cat note.txt > sub/n.txt"],
    )
    outcome = CommandsRunner().run(task, ctx)  # type: ignore[arg-type]
    assert outcome.state is StateType.SUCCESS, outcome.error
    assert outcome.outputs is not None
    files = outcome.outputs["outputFiles"]
    assert set(files) == {"count.out", "sub/n.txt"}
    run = ctx.job.task_run  # type: ignore[attr-defined]
    assert files["count.out"] == SCOPE.task_file("sh", run.id, "count.out")
    with local.open(files["count.out"]) as f:
        assert f.read().strip() == b"3"
    with local.open(files["sub/n.txt"]) as f:
        assert f.read() == b"inline etl"


def test_a_missing_input_file_fails_the_attempt_naming_it(local: LocalStorage) -> None:
    missing = SCOPE.input_file("data", "gone.csv")
    task, ctx = _commands(inputFiles={"a.csv": missing}, commands=["cat a.csv"])
    outcome = CommandsRunner().run(task, ctx)  # type: ignore[arg-type]
    assert outcome.state is StateType.FAILED
    assert outcome.error == f"inputFiles: no file at {missing}"


def test_an_input_file_of_another_execution_is_refused(local: LocalStorage) -> None:
    other = ExecutionScope("company.team", "etl", "exec2").input_file("data", "theirs.csv")
    local.put(other, io.BytesIO(b"not yours"))
    task, ctx = _commands(inputFiles={"a.csv": other}, commands=["cat a.csv"])
    outcome = CommandsRunner().run(task, ctx)  # type: ignore[arg-type]
    assert outcome.state is StateType.FAILED
    assert "is not a file of this execution" in (outcome.error or "")


def test_an_input_file_outside_the_working_directory_is_refused(local: LocalStorage) -> None:
    task, ctx = _commands(inputFiles={"../escape.txt": "x"}, commands=["true"])
    outcome = CommandsRunner().run(task, ctx)  # type: ignore[arg-type]
    assert outcome.state is StateType.FAILED
    assert "must be a relative path inside the working directory" in (outcome.error or "")


def test_the_cli_uploads_a_file_input_and_names_an_unreadable_one(local: LocalStorage, tmp_path: Path) -> None:
    from conveyor.cli.files import upload_inputs
    from conveyor.common.errors import InputError
    from conveyor.common.loader import load_flow

    flow = load_flow(
        "id: f\nnamespace: n.s\ninputs:\n  - {id: data, type: FILE}\n  - {id: s, type: STRING}\n"
        "tasks:\n  - {id: t, type: io.kestra.plugin.core.log.Log, message: m}\n",
        "f.yaml",
    )
    given = tmp_path / "orders.csv"
    given.write_bytes(b"a\n")
    uploaded = upload_inputs(flow, {"data": f"@{given}", "s": "@not-a-file"}, "ex1")
    assert uploaded == {"data": "kestra:///n/s/f/executions/ex1/inputs/data/orders.csv", "s": "@not-a-file"}
    with local.open(uploaded["data"]) as stream:
        assert stream.read() == b"a\n"
    with pytest.raises(InputError, match="input 'data': cannot read"):
        upload_inputs(flow, {"data": f"@{tmp_path / 'missing.csv'}"}, "ex2")


def test_file_uri_names_the_current_task_runs_file() -> None:
    context = {
        "flow": {"namespace": "company.team", "id": "etl"},
        "execution": {"id": "exec1"},
        "task": {"id": "extract"},
        "taskrun": {"id": "tr1"},
    }
    assert render_value("{{ fileURI('out/rows.csv') }}", context) == SCOPE.task_file("extract", "tr1", "out/rows.csv")
    with pytest.raises(RenderError, match=r"needs `taskrun\.id`"):
        render_value("{{ fileURI('x') }}", {**context, "taskrun": None})
    with pytest.raises(RenderError, match="leaves its folder"):
        render_value("{{ fileURI('../x') }}", context)
