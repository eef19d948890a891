"""The task catalogue's example flows end to end: the CLI and the services as processes on the real servers.
The HTTP Request example is pointed (input `conveyorUrl`, as `conveyor demo` does with its own server) at a
loopback server the test starts."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.cli import ROOT
from tests.e2e.conftest import Stack
from tests.httpserver import loopback_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

EXAMPLES = ROOT / "examples"


def task_run(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    (run,) = [r for r in execution["taskRunList"] if r["taskId"] == task_id]
    return dict(run)


def messages(stack: Stack, execution: dict[str, Any], task_id: str) -> list[str]:
    # Retried: the first `conveyor logs` of a fresh index prefix can fail while the indexer is still creating
    # the indices (seen once as an Elasticsearch error from `get_execution`; not this feature's concern).
    def logs() -> subprocess.CompletedProcess[str] | None:
        done = stack.cli("logs", execution["id"], "--output", "json", "--wait", "60")
        return done if done.returncode == 0 else None

    done = stack.poll(logs, timeout=120, every=1.0)
    assert done is not None, stack.tail()
    return [line["message"] for line in json.loads(done.stdout) if line["taskId"] == task_id]


def succeeded(stack: Stack, path: Path, *args: str) -> dict[str, Any]:
    execution = stack.run_json(path, *args)
    assert execution["state"]["current"] == "SUCCESS", (execution, stack.tail())
    return execution


def test_output_values_example(e2e_stack: Stack) -> None:
    execution = succeeded(e2e_stack, EXAMPLES / "output-values.yaml")
    values = task_run(execution, "computed")["outputs"]["values"]
    assert values == {"greeting": "hello from output-values", "sum": "42", "rows": ["computed", "second"]}
    assert messages(e2e_stack, execution, "use") == ["hello from output-values: 42 computed,second"]


def test_http_request_example_against_a_loopback_server(e2e_stack: Stack) -> None:
    with loopback_server() as server:
        execution = succeeded(e2e_stack, EXAMPLES / "http-request.yaml", "--input", f"conveyorUrl={server.url}")
        paths = [r.path for r in server.requests]
    outputs = task_run(execution, "health")["outputs"]
    assert outputs["code"] == 200 and outputs["uri"] == f"{server.url}/api/v1/health"
    assert json.loads(outputs["body"])["headers"]["Accept"] == "application/json"
    assert paths == ["/api/v1/health"]
    assert messages(e2e_stack, execution, "show") == ["HTTP 200: UP"]


def test_python_script_example(e2e_stack: Stack) -> None:
    execution = succeeded(e2e_stack, EXAMPLES / "python-script.yaml")
    assert task_run(execution, "compute")["outputs"] == {"total": 30, "exitCode": 0}
    logged = messages(e2e_stack, execution, "compute")
    assert "squares of python-script: [1, 4, 9, 16]" in logged
    assert any(line.startswith("Python 3.") for line in logged)  # beforeCommands: python3 --version
    assert messages(e2e_stack, execution, "use") == ["the total is 30"]


def test_python_commands_example(e2e_stack: Stack) -> None:
    execution = succeeded(e2e_stack, EXAMPLES / "python-commands.yaml")
    assert task_run(execution, "run")["outputs"] == {"major": 3, "exitCode": 0}
    assert messages(e2e_stack, execution, "use") == ["python 3"]


def test_shell_script_example_keeps_the_input_out_of_the_shell(e2e_stack: Stack) -> None:
    execution = succeeded(e2e_stack, EXAMPLES / "shell-script.yaml")
    assert messages(e2e_stack, execution, "greet") == ["hello world; echo not run"]
    assert task_run(execution, "greet")["outputs"] == {"length": 19, "exitCode": 0}


def test_allow_failure_example_ends_warning_and_goes_on(e2e_stack: Stack) -> None:
    execution = e2e_stack.run_json(EXAMPLES / "allow-failure.yaml")
    assert execution["state"]["current"] == "WARNING", (execution, e2e_stack.tail())
    states = {r["taskId"]: r["state"]["current"] for r in execution["taskRunList"]}
    assert states == {"optional": "WARNING", "flaky": "FAILED", "note": "SUCCESS", "after": "SUCCESS"}


def test_dag_example_runs_each_task_after_its_dependencies(e2e_stack: Stack) -> None:
    execution = succeeded(e2e_stack, EXAMPLES / "dag.yaml")
    runs = {r["taskId"]: r for r in execution["taskRunList"]}
    load_start = runs["load"]["state"]["histories"][0]["date"]
    assert all(runs[t]["state"]["histories"][-1]["date"] <= load_start for t in ("clean", "enrich"))
    assert messages(e2e_stack, execution, "load") == ["load clean rows + enrich rows"]


def test_loop_until_example_iterates_until_its_condition(e2e_stack: Stack) -> None:
    execution = succeeded(e2e_stack, EXAMPLES / "loop-until.yaml")
    checks = [r for r in execution["taskRunList"] if r["taskId"] == "check"]
    assert [r["iteration"] for r in checks] == [1, 2, 3]
    assert [r["outputs"]["values"]["ready"] for r in checks] == ["false", "false", "true"]
    assert messages(e2e_stack, execution, "done") == ["ready after 3 iterations"]


def test_working_directory_example_shares_one_directory(e2e_stack: Stack) -> None:
    # its namespaceFiles are the files `conveyor demo` uploads first
    uploaded = e2e_stack.cli("nsfiles", "upload", str(EXAMPLES / "nsfiles"), "--namespace", "conveyor.examples")
    assert uploaded.returncode == 0, uploaded.stderr
    execution = succeeded(e2e_stack, EXAMPLES / "working-directory.yaml")
    runs = {r["taskId"]: r for r in execution["taskRunList"]}
    group = runs["workspace"]["id"]
    assert runs["write"]["parentTaskRunId"] == group and runs["count"]["parentTaskRunId"] == group
    assert runs["write"]["attempts"][0]["workerId"] == runs["count"]["attempts"][0]["workerId"]
    assert runs["count"]["outputs"] == {"words": 2, "exitCode": 0}  # the inputFiles' stop word is left out
    (uri,) = runs["workspace"]["outputs"]["outputFiles"].values()
    assert uri.startswith("kestra:///conveyor/examples/working-directory/executions/") and uri.endswith("counts.csv")
    query = (EXAMPLES / "nsfiles" / "sql" / "report.sql").read_text().split()
    assert messages(e2e_stack, execution, "report") == [f"2 words; words,query_words\n2,{len(query)}"]


def test_working_directory_cache_example_keeps_files_between_executions(e2e_stack: Stack, tmp_path: Path) -> None:
    # a namespace of its own: the storage (and so the cache) outlives the test
    namespace = f"e2e.cache.{uuid.uuid4().hex[:8]}"
    source = (EXAMPLES / "working-directory-cache.yaml").read_text()
    flow = tmp_path / "cache.yaml"
    flow.write_text(source.replace("namespace: conveyor.examples", f"namespace: {namespace}"))
    first = succeeded(e2e_stack, flow)
    assert task_run(first, "install")["outputs"] == {"cached": False, "exitCode": 0}
    second = succeeded(e2e_stack, flow)
    assert task_run(second, "install")["outputs"] == {"cached": True, "exitCode": 0}
    # the second run read the file the first one built, through the archive
    assert messages(e2e_stack, second, "use") == messages(e2e_stack, first, "use")
    assert messages(e2e_stack, second, "report") == ["dependencies from the cache: true"]


def _finally_runs(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    runs = {r["taskId"]: r for r in execution["taskRunList"]}
    group = runs["workspace"]
    assert runs["build"]["parentTaskRunId"] == group["id"] and runs["cleanup"]["parentTaskRunId"] == group["id"]
    # one worker ran the group and its `finally`, in one directory
    assert runs["build"]["attempts"][0]["workerId"] == runs["cleanup"]["attempts"][0]["workerId"]
    return runs


def test_working_directory_finally_reads_the_file_a_failed_task_left(e2e_stack: Stack) -> None:
    execution = e2e_stack.run_json(EXAMPLES / "working-directory-finally.yaml", "--input", "fail=true")
    assert execution["state"]["current"] == "FAILED", (execution, e2e_stack.tail())
    runs = _finally_runs(execution)
    assert runs["build"]["state"]["current"] == "FAILED"
    assert runs["cleanup"]["state"]["current"] == "SUCCESS"
    assert runs["cleanup"]["outputs"] == {"lines": 1, "last": "build started", "exitCode": 0}
    assert runs["workspace"]["state"]["current"] == "FAILED"  # the finally did not turn it into a success
    assert "report" not in runs


def test_working_directory_finally_runs_after_successful_tasks(e2e_stack: Stack) -> None:
    execution = succeeded(e2e_stack, EXAMPLES / "working-directory-finally.yaml")
    runs = _finally_runs(execution)
    assert [runs[t]["state"]["current"] for t in ("workspace", "build", "cleanup", "report")] == ["SUCCESS"] * 4
    assert runs["cleanup"]["outputs"] == {"lines": 2, "last": "build done", "exitCode": 0}
    assert messages(e2e_stack, execution, "report") == ["cleaned up after 2 lines: build done"]


# A group whose second task fails until the test creates its flag file; `write` refuses a directory that is not
# fresh and records which one it ran in, `cleanup` (finally) reads that record back.
WORKDIR_RESTART = """
id: workdir-restart
namespace: e2e.workdir
tasks:
  - id: workspace
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - test ! -e where.txt
          - pwd > where.txt
          - 'printf ''::{"outputs": {"dir": "%s"}}::\\n'' "$(pwd)"'
      - id: check
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ['test -f "FLAG"']
    finally:
      - id: cleanup
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ['printf ''::{"outputs": {"dir": "%s"}}::\\n'' "$(cat where.txt)"']
  - {id: after, type: io.kestra.plugin.core.log.Log, message: restarted}
"""


def _states(execution: dict[str, Any], task_id: str) -> list[str]:
    return [r["state"]["current"] for r in execution["taskRunList"] if r["taskId"] == task_id]


def test_a_restarted_working_directory_runs_its_whole_group_again_in_a_fresh_directory(
    e2e_stack: Stack, tmp_path: Path
) -> None:
    flag = tmp_path / "ready"
    flow = tmp_path / "workdir-restart.yaml"
    flow.write_text(WORKDIR_RESTART.replace("FLAG", str(flag)))
    failed = e2e_stack.run_json(flow)
    assert failed["state"]["current"] == "FAILED", (failed, e2e_stack.tail())
    first = {r["taskId"]: r for r in failed["taskRunList"]}
    assert [first[t]["state"]["current"] for t in ("write", "check", "cleanup")] == ["SUCCESS", "FAILED", "SUCCESS"]
    assert first["cleanup"]["outputs"]["dir"] == first["write"]["outputs"]["dir"]  # finally in the same directory
    assert "after" not in first
    flag.touch()
    done = e2e_stack.cli("restart", failed["id"], "--wait", "--output", "json", "--timeout", "120")
    assert done.returncode == 0, done.stderr + e2e_stack.tail()
    execution = json.loads(done.stdout)
    assert execution["id"] == failed["id"] and execution["state"]["current"] == "SUCCESS", (execution, e2e_stack.tail())
    # the whole group ran again, `finally` included, as a new attempt of the group's task run
    assert _states(execution, "write") == ["SUCCESS", "SUCCESS"]
    assert _states(execution, "check") == ["FAILED", "SUCCESS"]
    assert _states(execution, "cleanup") == ["SUCCESS", "SUCCESS"]
    (group,) = [r for r in execution["taskRunList"] if r["taskId"] == "workspace"]
    assert group["id"] == first["workspace"]["id"] and group["state"]["current"] == "SUCCESS"
    assert [a["state"]["current"] for a in group["attempts"]][-2:] == ["FAILED", "SUCCESS"]
    grouped = [r for r in execution["taskRunList"] if r["taskId"] in ("write", "check", "cleanup")]
    assert all(r["parentTaskRunId"] == group["id"] for r in grouped)
    # the first attempt's task runs are kept as they ended
    kept = {r["id"]: r for r in grouped}
    for task_id in ("write", "check", "cleanup"):
        assert kept[first[task_id]["id"]]["state"] == first[task_id]["state"]
    # in a fresh directory (`write` refuses one that is not), which its `finally` saw too
    again = {r["taskId"]: r for r in grouped if r["id"] not in {first[t]["id"] for t in ("write", "check", "cleanup")}}
    assert again["write"]["outputs"]["dir"] != first["write"]["outputs"]["dir"]
    assert again["cleanup"]["outputs"]["dir"] == again["write"]["outputs"]["dir"]
    assert _states(execution, "after") == ["SUCCESS"]


def test_http_download_example_stores_the_body(e2e_stack: Stack) -> None:
    with loopback_server() as server:
        execution = succeeded(e2e_stack, EXAMPLES / "http-download.yaml", "--input", f"conveyorUrl={server.url}")
    outputs = task_run(execution, "fetch")["outputs"]
    assert outputs["code"] == 200 and outputs["length"] > 0
    assert outputs["uri"].startswith("kestra:///conveyor/examples/http-download/executions/")
    assert outputs["uri"].endswith("/health")
    assert messages(e2e_stack, execution, "show") == [f"HTTP 200, {outputs['length']} bytes: UP"]


def test_namespace_files_example_reads_and_copies_the_uploaded_files(e2e_stack: Stack) -> None:
    uploaded = e2e_stack.cli("nsfiles", "upload", str(EXAMPLES / "nsfiles"), "--namespace", "conveyor.examples")
    assert uploaded.returncode == 0, uploaded.stderr
    execution = succeeded(e2e_stack, EXAMPLES / "namespace-files.yaml")
    query = (EXAMPLES / "nsfiles" / "sql" / "report.sql").read_text().strip()
    assert messages(e2e_stack, execution, "query") == [f"the query: {query}"]
    assert task_run(execution, "report")["outputs"] == {"words": len(query.split()), "exitCode": 0}
    assert messages(e2e_stack, execution, "report") == [f"would run: {query}"]
