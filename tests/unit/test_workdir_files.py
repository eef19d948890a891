"""Files around a WorkingDirectory (the reference's preExecuteTasks and postExecuteTasks): namespace files and
`inputFiles` written into the directory before its tasks, `outputFiles` stored after them (also after a failed
task) as the group's output; and `namespaceFiles` `namespaces`, `folderPerNamespace`, `ifExists` (scripts and
WorkingDirectory share them). On the real servers: tests/e2e/test_task_catalogue.py (the example)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor.common import namespace_access
from conveyor.common.events import TaskResult, WorkerJob
from conveyor.common.loader import load_flow
from conveyor.common.state import StateType
from conveyor.common.storage import default_storage
from conveyor.common.tasks.registry import task_classes
from conveyor.worker.attempt import Attempt
from conveyor.worker.runners import runner_for
from conveyor.worker.testing import make_job, run_context
from tests.unit.test_nsfiles import put, storage  # noqa: F401  (the local storage of each test, autouse)

S = StateType
NS = "company.team"
WD = "io.kestra.plugin.core.flow.WorkingDirectory"
SH = "io.kestra.plugin.scripts.shell.Commands"


def content(uri: str) -> bytes:
    with default_storage().open(uri) as stream:
        return bytes(stream.read())


def run_group(spec: dict[str, Any]) -> tuple[TaskResult, list[TaskResult]]:
    published: list[tuple[WorkerJob, TaskResult]] = []
    job = make_job(spec)
    result = Attempt(job, publish=lambda j, r: published.append((j, r))).run()
    assert result is not None
    return result, [r for _, r in published if r.state.terminal]


def test_namespace_and_input_files_are_there_before_the_tasks_and_output_files_are_stored_after() -> None:
    put("sql/q.sql", b"select 1")
    put("notes.txt", b"not selected")
    result, finals = run_group(
        {
            "id": "wd",
            "type": WD,
            "namespaceFiles": {"enabled": True, "include": ["sql/**"]},
            "inputFiles": {"data/in.txt": "{{ 'al' ~ 'pha' }}", "empty.txt": None},
            "outputFiles": ["out/*.txt"],
            "tasks": [
                {"id": "use", "type": SH, "commands": ["test ! -e notes.txt", "test -e empty.txt", "mkdir out"]},
                {"id": "make", "type": SH, "commands": ["cat sql/q.sql data/in.txt > out/all.txt", "echo x > y.log"]},
            ],
        }
    )
    assert result.state == S.SUCCESS, [r.error for r in finals]
    assert [(r.task_id, r.state) for r in finals] == [("use", S.SUCCESS), ("make", S.SUCCESS)]
    assert result.outputs is not None and set(result.outputs["outputFiles"]) == {"out/all.txt"}
    uri = result.outputs["outputFiles"]["out/all.txt"]
    assert uri.startswith("kestra:///company/team/test/executions/") and "/tasks/wd/" in uri
    assert content(uri) == b"select 1alpha"


def test_input_files_may_be_an_expression_rendering_to_a_json_object() -> None:
    files = json.dumps({"a.txt": "from json"})
    result, finals = run_group(
        {
            "id": "wd",
            "type": WD,
            "inputFiles": "{{ " + repr(files) + " }}",
            "tasks": [{"id": "read", "type": SH, "commands": ['test "$(cat a.txt)" = "from json"']}],
        }
    )
    assert result.state == S.SUCCESS, [r.error for r in finals]
    assert result.outputs is None  # no outputFiles: no outputs, as the reference


def test_output_files_are_stored_after_a_failed_task_too() -> None:
    result, finals = run_group(
        {
            "id": "wd",
            "type": WD,
            "outputFiles": ["report.txt"],
            "tasks": [
                {"id": "write", "type": SH, "commands": ["echo partial > report.txt"]},
                {"id": "boom", "type": SH, "commands": ["exit 3"]},
                {"id": "never", "type": SH, "commands": ["true"]},
            ],
        }
    )
    assert result.state == S.FAILED and "task boom of wd ended FAILED" in (result.error or "")
    assert [r.task_id for r in finals] == ["write", "boom"]
    assert result.outputs is not None and content(result.outputs["outputFiles"]["report.txt"]) == b"partial\n"


def test_a_file_that_cannot_be_written_fails_the_group_before_any_task_runs() -> None:
    result, finals = run_group(
        {
            "id": "wd",
            "type": WD,
            "inputFiles": {"x.txt": "kestra:///other/flow/executions/e1/tasks/t/r/x.txt"},
            "tasks": [{"id": "never", "type": SH, "commands": ["true"]}],
        }
    )
    assert result.state == S.FAILED and finals == []
    assert (result.error or "").startswith("Failed preExecuteTasks on WorkingDirectory: inputFiles: ")
    assert "is not a file of this execution" in (result.error or "")
    escaped, _ = run_group(
        {
            "id": "wd",
            "type": WD,
            "inputFiles": {"../out.txt": "x"},
            "tasks": [{"id": "t", "type": SH, "commands": ["true"]}],
        }
    )
    assert "inputFiles: '../out.txt' must be a relative path inside the working directory" in (escaped.error or "")


def test_an_output_glob_leaving_the_directory_fails_the_group_after_its_tasks() -> None:
    result, finals = run_group(
        {"id": "wd", "type": WD, "outputFiles": ["../*"], "tasks": [{"id": "t", "type": SH, "commands": ["true"]}]}
    )
    assert [(r.task_id, r.state) for r in finals] == [("t", S.SUCCESS)]
    assert result.state == S.FAILED
    assert (result.error or "").startswith("Failed postExecuteTasks on WorkingDirectory: outputFiles: ")


def test_the_group_loads_with_the_file_properties_and_refuses_a_bad_if_exists() -> None:
    flow = load_flow(
        "id: f\nnamespace: a\ntasks:\n  - id: wd\n    type: " + WD + "\n    inputFiles: {a: b}\n"
        "    outputFiles: ['*.csv']\n    namespaceFiles: {namespaces: [a, b], folderPerNamespace: true}\n"
        "    tasks:\n      - {id: t, type: io.kestra.plugin.core.log.Log, message: x}\n"
    )
    group = flow.tasks[0]
    assert group.output_files == ["*.csv"]  # type: ignore[attr-defined]
    assert group.namespace_files.namespaces == ["a", "b"]  # type: ignore[attr-defined]
    with pytest.raises(Exception, match=r"ifExists"):
        load_flow(
            "id: f\nnamespace: a\ntasks:\n  - id: c\n    type: " + SH + "\n    commands: [x]\n"
            "    namespaceFiles: {ifExists: SOMETIMES}\n"
        )


def run_commands(namespace_files: dict[str, Any], commands: list[str]) -> tuple[StateType, str | None, list[str]]:
    spec: dict[str, Any] = {"id": "c", "type": SH, "namespaceFiles": namespace_files, "commands": commands}
    ctx, logs = run_context(spec)
    task = task_classes()[SH].model_validate(spec)
    outcome = runner_for(task).run(task, ctx)
    return outcome.state, outcome.error, [f"{e.level} {e.message}" for e in logs]


@pytest.fixture
def two_namespaces(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # `shared` is not a parent of the flow's namespace: a rule lets it use its files.
    monkeypatch.setenv("CONVEYOR_NAMESPACES_ALLOWED", '{"shared": ["company.*"]}')
    namespace_access.settings.cache_clear()
    put("conf.txt", b"team", NS)
    put("conf.txt", b"shared", "shared")
    put("only-shared.txt", b"s", "shared")
    yield
    namespace_access.settings.cache_clear()


NAMESPACES = ["{{ flow.namespace ?? 'company.team' }}", "shared"]


@pytest.mark.usefixtures("two_namespaces")
def test_files_of_several_namespaces_the_later_one_winning_by_default() -> None:
    state, error, lines = run_commands({"namespaces": NAMESPACES}, ["cat conf.txt", "test -e only-shared.txt"])
    assert state == S.SUCCESS, error
    assert lines == ["INFO shared"]


@pytest.mark.usefixtures("two_namespaces")
def test_folder_per_namespace_keeps_each_namespace_apart() -> None:
    state, error, lines = run_commands(
        {"namespaces": NAMESPACES, "folderPerNamespace": True},
        ["cat company.team/conf.txt shared/conf.txt", "test ! -e conf.txt"],
    )
    assert state == S.SUCCESS, error
    assert lines == ["INFO teamshared"]


@pytest.mark.usefixtures("two_namespaces")
@pytest.mark.parametrize(
    ("if_exists", "kept", "warned"), [("IGNORE", "team", False), ("WARN", "team", True), ("OVERWRITE", "shared", False)]
)
def test_if_exists_decides_what_a_second_file_of_the_same_path_does(if_exists: str, kept: str, warned: bool) -> None:
    state, error, lines = run_commands({"namespaces": NAMESPACES, "ifExists": if_exists}, ["cat conf.txt"])
    assert state == S.SUCCESS, error
    assert lines[-1] == f"INFO {kept}"
    assert (
        any(line.startswith("WARN namespaceFiles: 'conf.txt' is already in the working directory") for line in lines)
        is warned
    )


@pytest.mark.usefixtures("two_namespaces")
def test_if_exists_fail_fails_the_task_naming_the_file() -> None:
    state, error, _ = run_commands({"namespaces": NAMESPACES, "ifExists": "FAIL"}, ["true"])
    assert state == S.FAILED
    assert error == "namespaceFiles: 'conf.txt' is already in the working directory (ifExists: FAIL)"
