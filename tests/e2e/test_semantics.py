"""Flow semantics end to end through the CLI: the reference's `loop` example, ForEach concurrency, outputs
feeding later tasks, Commands outputs and metrics, variables, flow outputs, error branches, Parallel
`concurrent`, and `conveyor logs`."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.common.elastic import elasticsearch_client
from conveyor.indexer.templates import METRICS, alias
from tests.cli import ROOT
from tests.e2e.conftest import Stack
from tests.httpserver import loopback_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

WORKERS = 2
# Room for the 50 values of a ForEach with concurrencyLimit 0 to sleep at once, even on one worker.
WORKER_ENV = {"CONVEYOR_WORKER_CONCURRENCY": "64"}


@pytest.fixture(scope="module")
def stack(e2e_stack: Stack) -> Stack:
    e2e_stack.wait_for_workers(WORKERS)
    return e2e_stack


def logs(stack: Stack, execution_id: str, *args: str) -> list[dict[str, Any]]:
    done = stack.cli("logs", execution_id, "--output", "json", "--wait", "60", *args)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def runs(execution: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [r for r in execution["taskRunList"] if r["taskId"] == task_id]


def date(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def moments(run: dict[str, Any], state: str) -> datetime:
    """When the run's (first) attempt reached `state`."""
    return date(next(h["date"] for h in run["attempts"][0]["state"]["histories"] if h["state"] == state))


def test_the_reference_loop_logs_values_and_parents(stack: Stack) -> None:
    execution = stack.run_json(ROOT / "examples" / "loop.yaml")
    assert execution["state"]["current"] == "SUCCESS", stack.tail()

    assert [line["message"] for line in logs(stack, execution["id"], "--task", "log")] == ["1", "2"]
    parents = [json.loads(line["message"]) for line in logs(stack, execution["id"], "--task", "log_parent")]
    assert parents == [[{"taskrun": {"value": "1"}}], [{"taskrun": {"value": "2"}}]]

    (foreach,) = runs(execution, "foreach")
    assert foreach.get("value") is None and foreach.get("parentTaskRunId") is None
    for task_id in ("log", "if"):
        assert [(r["value"], r["parentTaskRunId"]) for r in runs(execution, task_id)] == [
            ("1", foreach["id"]),
            ("2", foreach["id"]),
        ]
    ifs = {r["id"]: r["value"] for r in runs(execution, "if")}
    children = runs(execution, "log_parent")
    assert [ifs[r["parentTaskRunId"]] for r in children] == ["1", "2"]
    assert all(r.get("value") is None for r in children)  # children of If carry no value of their own

    text = stack.cli("logs", execution["id"], "--task", "log")
    assert text.returncode == 0 and [line.split()[-1] for line in text.stdout.splitlines()] == ["1", "2"]


def test_foreach_with_concurrency_limit_0_runs_every_value_at_once(stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "fan-out.yaml"
    flow.write_text(
        "id: fan-out\nnamespace: conveyor.tests\ntasks:\n"
        "  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: 0\n"
        f"    values: {json.dumps(list(range(50)))}\n"
        "    tasks:\n      - id: nap\n        type: io.kestra.plugin.core.flow.Sleep\n        duration: PT2S\n"
    )
    execution = stack.run_json(flow)
    assert execution["state"]["current"] == "SUCCESS", stack.tail()
    naps = runs(execution, "nap")
    assert sorted(int(r["value"]) for r in naps) == list(range(50))
    # One decision created all fifty; every sleep had started before the first one ended.
    assert len({r["state"]["histories"][0]["date"] for r in naps}) == 1
    assert max(moments(r, "RUNNING") for r in naps) < min(moments(r, "SUCCESS") for r in naps)
    assert {r["attempts"][0]["workerId"] for r in naps} == {"worker-1", "worker-2"}
    (each,) = runs(execution, "each")
    elapsed = date(each["state"]["endDate"]) - date(each["state"]["startDate"])
    assert elapsed < timedelta(seconds=2 * 10)  # about one sleep, far from fifty of them


def test_commands_outputs_and_metrics_arrive_and_feed_later_tasks(stack: Stack) -> None:
    execution = stack.run_json(ROOT / "examples" / "commands.yaml")
    assert execution["state"]["current"] == "SUCCESS", stack.tail()
    (shell,) = runs(execution, "shell")
    assert shell["outputs"] == {"answer": 42, "exitCode": 0}
    metrics = {(m["type"], m["name"]): m["value"] for m in shell["attempts"][0]["metrics"]}
    assert metrics[("counter", "rows")] == 3 and ("timer", "duration") in metrics

    lines = logs(stack, execution["id"])
    assert [(line["taskId"], line["level"], line["message"]) for line in lines] == [
        ("shell", "INFO", "hello conveyor"),
        ("use", "INFO", "the answer is 42"),
    ]
    assert all(line["taskRunId"] and line["timestamp"] for line in lines)

    client = elasticsearch_client(stack.es)

    def indexed() -> set[tuple[str, str]]:
        response = client.search(
            index=alias(stack.es.index_prefix, METRICS),
            ignore_unavailable=True,
            query={"term": {"executionId": execution["id"]}},
            size=100,
        )
        found = {(hit["_source"]["taskId"], hit["_source"]["name"]) for hit in response["hits"]["hits"]}
        return found if {("shell", "rows"), ("shell", "duration"), ("use", "duration")} <= found else set()

    assert stack.poll(indexed), "the metrics were not indexed"


SEMANTICS = """
id: semantics
namespace: conveyor.tests
variables:
  greeting: Hello
  target: "{{ flow.id }}"
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "{{ vars.greeting }} {{ render(vars.target) }}"
  - id: one-at-a-time
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 1
    tasks:
      - {id: nap-a, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.3S}
      - {id: nap-b, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.3S}
  - id: guarded
    type: io.kestra.plugin.core.flow.Sequential
    allowFailure: true
    tasks:
      - {id: boom, type: io.kestra.plugin.core.execution.Fail, errorMessage: "boom from {{ task.id }}"}
      - {id: never, type: io.kestra.plugin.core.log.Log, message: never}
    errors:
      - id: handler
        type: io.kestra.plugin.core.log.Log
        message: "{{ errorLogs()[0].taskId }}: {{ errorLogs()[0].message }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.hello.value ?? 'none' }} / {{ outputs.missing.value ?? 'no missing' }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.hello.value }}"
"""

FAILING = """
id: failing
namespace: conveyor.tests
tasks:
  - {id: broken, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.nope.value }}"}
  - {id: unreached, type: io.kestra.plugin.core.log.Log, message: unreached}
errors:
  - {id: on-error, type: io.kestra.plugin.core.log.Log, message: "handled {{ errorLogs() | length }}"}
"""


def test_variables_parallel_concurrent_error_branches_and_flow_outputs(stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "semantics.yaml"
    flow.write_text(SEMANTICS)
    execution = stack.run_json(flow)
    # The allowed failure makes the Sequential WARNING: the error branch ran but did not turn it into success.
    assert execution["state"]["current"] == "WARNING", stack.tail()
    assert runs(execution, "hello")[0]["outputs"] == {"value": "Hello semantics"}
    assert execution["outputs"] == {"greeting": "Hello semantics"}
    (nap_a,), (nap_b,) = runs(execution, "nap-a"), runs(execution, "nap-b")
    assert moments(nap_a, "SUCCESS") <= moments(nap_b, "RUNNING")  # `concurrent: 1`: one after the other
    assert [r["state"]["current"] for r in runs(execution, "guarded")] == ["WARNING"]
    assert [r["state"]["current"] for r in runs(execution, "boom")] == ["FAILED"]
    assert runs(execution, "never") == []
    messages = {(line["taskId"], line["message"]) for line in logs(stack, execution["id"])}
    assert {("boom", "boom from boom"), ("handler", "boom: boom from boom")} <= messages
    assert ("after", "Hello semantics / no missing") in messages


def test_a_failing_expression_fails_its_task_run_and_flow_errors_run(stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "failing.yaml"
    flow.write_text(FAILING)
    execution = stack.run_json(flow)
    assert execution["state"]["current"] == "FAILED", stack.tail()
    (broken,) = runs(execution, "broken")
    error = broken["attempts"][0]["error"]
    assert "task 'broken'" in error and "{{ outputs.nope.value }}" in error and "Unable to find `nope`" in error
    assert runs(execution, "unreached") == []
    assert [r["state"]["current"] for r in runs(execution, "on-error")] == ["SUCCESS"]
    lines = logs(stack, execution["id"])
    assert [(line["taskId"], line["level"]) for line in lines] == [("broken", "ERROR"), ("on-error", "INFO")]
    assert lines[0]["message"] == error and lines[1]["message"] == "handled 1"
    assert logs(stack, execution["id"], "--task", "on-error", "--level", "ERROR") == []


def test_every_example_flow_ends_as_it_should(stack: Stack) -> None:
    paths = sorted((ROOT / "examples").glob("*.yaml"))
    # the namespace-files example reads the files `conveyor demo` uploads first
    uploaded = stack.cli("nsfiles", "upload", str(ROOT / "examples" / "nsfiles"), "--namespace", "conveyor.examples")
    assert uploaded.returncode == 0, uploaded.stderr
    with loopback_server() as server, ThreadPoolExecutor(max_workers=4) as pool:
        # the HTTP examples call the server `conveyor demo` names in `conveyorUrl`: here a loopback one
        def run(path: Path) -> dict[str, Any]:
            http = path.name in ("http-request.yaml", "http-download.yaml")
            extra = ("--input", f"conveyorUrl={server.url}") if http else ()
            return stack.run_json(path, *extra)

        finals = dict(zip(paths, pool.map(run, paths), strict=True))
    states = {path.name: final["state"]["current"] for path, final in finals.items()}
    warned = ("errors.yaml", "retry.yaml", "allow-failure.yaml")
    expected = {p.name: "WARNING" if p.name in warned else "SUCCESS" for p in paths}
    assert states == expected, f"{states}\n{stack.tail()}"


def test_logs_of_an_unknown_execution_exit_1(stack: Stack) -> None:
    done = stack.cli("logs", "no-such-execution", "--output", "json")
    assert done.returncode == 1 and json.loads(done.stdout) == [] and "no execution" in done.stderr
