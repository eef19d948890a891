"""Subflow and ForEachItem end to end: the CLI and the services as processes on the real servers, with two
executors (so a child and its parent often sit on partitions of different executors: the child's end travels
to the parent's key), child flows deployed with `conveyor flows deploy`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import child_flows
from tests.cli import ROOT
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
EXECUTORS = 2
WORKER_ENV = {"CONVEYOR_WORKER_CONCURRENCY": "8"}
NS = "e2e.sub"

CHILDREN = {
    "child.yaml": child_flows.child(NS),
    "failing.yaml": child_flows.failing(NS),
    "slow.yaml": child_flows.slow(NS),
    # Fails on its first run, succeeds when restarted (the failed task run's next attempt).
    "fails-once.yaml": child_flows.fails_once(NS),
    # The reference's for-each-item-subflow.yaml and for-each-item-outputs-subflow.yaml, in our namespace.
    "for-each-item-subflow.yaml": """
id: for-each-item-subflow
namespace: e2e.sub
inputs:
  - {id: items, type: STRING}
tasks:
  - {id: per-item, type: io.kestra.plugin.core.log.Log, message: "{{ inputs.items }}"}
""",
    "for-each-item-outputs-subflow.yaml": """
id: for-each-item-outputs-subflow
namespace: e2e.sub
inputs:
  - {id: items, type: STRING}
tasks:
  - {id: return, type: io.kestra.plugin.core.debug.Return, format: "{{ read(inputs.items) }}"}
outputs:
  - {id: value, value: "{{ outputs.return.value }}", type: STRING}
""",
}


@pytest.fixture(scope="module")
def deployed(e2e_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    folder = tmp_path_factory.mktemp("children")
    for name, source in CHILDREN.items():
        (folder / name).write_text(source)
    done = e2e_stack.cli("flows", "deploy", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    return e2e_stack


def _flow(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "parent.yaml"
    path.write_text(source)
    return path


def _runs(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["taskId"]: run for run in execution["taskRunList"]}


def _executions(stack: Stack, *args: str) -> list[dict[str, Any]]:
    done = stack.cli("executions", "--output", "json", "--size", "100", *args)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _succeeded_children(stack: Stack, parent_id: str, timeout: float) -> list[dict[str, Any]]:
    """The parent's child executions, once the first of them has succeeded."""

    def succeeded() -> list[dict[str, Any]]:
        found = _executions(stack, "--parent", parent_id)
        return found if found and found[0]["state"]["current"] == "SUCCESS" else []

    return list(stack.poll(succeeded, timeout=timeout))


def _log_text(stack: Stack, execution_id: str, *args: str, timeout: float = 180.0) -> str:
    """The messages of the execution's log lines, joined (`args`: more of `conveyor logs`' options)."""
    shown = stack.cli("logs", execution_id, "--output", "json", *args, timeout=timeout)
    return " ".join(line["message"] for line in json.loads(shown.stdout or "[]"))


def _log_text_with(stack: Stack, execution_id: str, part: str) -> str:
    """`_log_text` once it holds `part` (empty if it never does within a minute)."""

    def holding() -> str:
        text = _log_text(stack, execution_id)
        return text if part in text else ""

    return str(stack.poll(holding, timeout=60))


def test_a_subflow_with_outputs(deployed: Stack, tmp_path: Path) -> None:
    parent = _flow(
        tmp_path,
        """
id: parent
namespace: e2e.sub
labels: {team: a}
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: e2e.sub
    flowId: child
    inputs: {name: Ada}
    inheritLabels: true
    labels: {from: parent}
  - {id: after, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.call.outputs.greeting }}"}
""",
    )
    execution = deployed.run_json(parent)
    assert execution["state"]["current"] == "SUCCESS", json.dumps(execution)[:3000] + deployed.tail()
    runs = _runs(execution)
    child_id = runs["call"]["outputs"]["executionId"]
    assert runs["call"]["outputs"] == {
        "executionId": child_id,
        "state": "SUCCESS",
        "outputs": {"greeting": "hello Ada"},
    }
    assert runs["after"]["outputs"] == {"value": "hello Ada"}

    (found,) = _succeeded_children(deployed, execution["id"], 60)
    assert found["id"] == child_id
    assert found["trigger"]["type"] == "io.kestra.plugin.core.flow.Subflow"
    assert found["trigger"]["variables"]["executionId"] == execution["id"]
    assert found["trigger"]["variables"]["taskRunId"] == runs["call"]["id"]
    labels = {label["key"]: label["value"] for label in found["labels"]}
    assert labels == {"team": "a", "from": "parent", "system.correlationId": execution["id"]}
    taskruns = deployed.cli("taskruns", "--parent", execution["id"], "--output", "json")
    assert [run["taskId"] for run in json.loads(taskruns.stdout)] == ["hello"]


def test_transmit_failed_and_a_failing_child(deployed: Stack, tmp_path: Path) -> None:
    parent = _flow(
        tmp_path,
        """
id: parent-failed
namespace: e2e.sub
tasks:
  - {id: call, type: io.kestra.plugin.core.flow.Subflow, namespace: e2e.sub, flowId: failing, transmitFailed: true}
  - {id: never, type: io.kestra.plugin.core.log.Log, message: unreachable}
""",
    )
    execution = deployed.run_json(parent)
    assert execution["state"]["current"] == "FAILED", json.dumps(execution)[:3000]
    runs = _runs(execution)
    assert runs["call"]["state"]["current"] == "FAILED"
    assert runs["call"]["outputs"]["state"] == "FAILED"
    assert "never" not in runs

    lenient = _flow(tmp_path, parent.read_text().replace("transmitFailed: true", "transmitFailed: false"))
    assert deployed.run_json(lenient)["state"]["current"] == "SUCCESS"


def test_a_missing_child_flow_fails_with_a_clear_message(deployed: Stack, tmp_path: Path) -> None:
    parent = _flow(
        tmp_path,
        """
id: parent-missing
namespace: e2e.sub
tasks:
  - {id: call, type: io.kestra.plugin.core.flow.Subflow, namespace: e2e.sub, flowId: nowhere}
""",
    )
    execution = deployed.run_json(parent)
    assert execution["state"]["current"] == "FAILED"

    text = _log_text_with(deployed, execution["id"], "nowhere")
    assert "Subflow 'call': no flow e2e.sub.nowhere is deployed" in text


def test_killing_the_parent_kills_its_running_child(deployed: Stack, tmp_path: Path) -> None:
    parent = _flow(
        tmp_path,
        """
id: parent-slow
namespace: e2e.sub
tasks:
  - {id: call, type: io.kestra.plugin.core.flow.Subflow, namespace: e2e.sub, flowId: slow}
""",
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli.main", "run", str(parent), "--output", "json"],
        env=deployed.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def running_child() -> list[dict[str, Any]]:
            found = [e for e in _executions(deployed, "--flow", "slow") if e["state"]["current"] == "RUNNING"]
            return found

        children = deployed.poll(running_child, timeout=120)
        assert children, deployed.tail()
        parent_id = children[0]["trigger"]["variables"]["executionId"]
        killed = deployed.cli("kill", parent_id, "--wait", "--output", "json")
        assert killed.returncode == 0, killed.stdout + killed.stderr
        out, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert json.loads(out)["state"]["current"] == "KILLED"

    def child_killed() -> bool:
        found = _executions(deployed, "--parent", parent_id)
        return bool(found) and found[0]["state"]["current"] == "KILLED"

    assert deployed.poll(child_killed, timeout=90), deployed.tail()


def test_a_restart_of_the_parent_restarts_its_failed_child(deployed: Stack, tmp_path: Path) -> None:
    # The reference's restartBehavior RETRY_FAILED (the default): the failed child execution itself is
    # restarted (a worker reads it back and sends its restart), no new child is started.
    parent = _flow(
        tmp_path,
        """
id: parent-restart
namespace: e2e.sub
tasks:
  - {id: call, type: io.kestra.plugin.core.flow.Subflow, namespace: e2e.sub, flowId: fails-once}
  - {id: after, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.call.outputs.greeting }}"}
""",
    )
    execution = deployed.run_json(parent)
    assert execution["state"]["current"] == "FAILED", json.dumps(execution)[:3000] + deployed.tail()
    child_id = _runs(execution)["call"]["outputs"]["executionId"]
    restarted = deployed.cli("restart", execution["id"], "--wait", "--output", "json", timeout=300)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr + deployed.tail()
    again = json.loads(restarted.stdout)
    assert again["state"]["current"] == "SUCCESS", json.dumps(again)[:3000] + deployed.tail()
    call = _runs(again)["call"]
    assert call["outputs"] == {"executionId": child_id, "state": "SUCCESS", "outputs": {"greeting": "one"}}
    assert [a["state"]["current"] for a in call["attempts"]] == ["FAILED", "SUCCESS"]
    assert _runs(again)["after"]["outputs"] == {"value": "one"}

    (found,) = _succeeded_children(deployed, execution["id"], 90)  # one child: the same execution, restarted
    assert found["id"] == child_id
    assert "RESTARTED" in [entry["state"] for entry in found["state"]["histories"]]

    text = _log_text_with(deployed, execution["id"], "restarted the failed child")
    assert f"restart of the child execution {child_id} sent" in text


def _items(tmp_path: Path, lines: int = 102) -> Path:
    path = tmp_path / "file.txt"
    path.write_text(child_flows.items_text(lines))
    return path


def _for_each_item(batch: str, child_id: str) -> str:
    return child_flows.for_each_item(NS, "for-each-item", batch, child_id, "    wait: true\n    transmitFailed: true")


def test_foreachitem_by_rows_the_references_counts(deployed: Stack, tmp_path: Path) -> None:
    flow = _flow(tmp_path, _for_each_item("{rows: 4}", "for-each-item-subflow"))
    execution = deployed.run_json(flow, "--input", f"file=@{_items(tmp_path)}")
    assert execution["state"]["current"] == "SUCCESS", json.dumps(execution)[:3000] + deployed.tail()
    outputs = _runs(execution)["each"]["outputs"]
    assert outputs["numberOfBatches"] == 26
    assert outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}

    def children() -> list[dict[str, Any]]:
        found = _executions(deployed, "--parent", execution["id"], "--state", "SUCCESS")
        return found if len(found) == 26 else []

    found = deployed.poll(children, timeout=90)
    assert len(found) == 26
    last = max(found, key=lambda e: e["trigger"]["variables"]["iteration"])
    prefix = f"kestra:///e2e/sub/for-each-item/executions/{execution['id']}/tasks/each/"
    assert last["inputs"]["items"].startswith(prefix) and last["inputs"]["items"].endswith("/batches/26.txt")
    got = deployed.cli("files", "get", last["inputs"]["items"])
    assert got.stdout.splitlines() == [f"{100:>20}", f"{101:>20}"]
    # The split ran on a worker (the executor reads no file): its log line carries the worker's id.
    shown = deployed.cli("logs", execution["id"], "--output", "json", "--wait", "60", timeout=120)
    assert shown.returncode == 0, shown.stderr
    (split,) = [line for line in json.loads(shown.stdout) if "split into 26 batches" in line["message"]]
    assert split["taskId"] == "each" and split.get("workerId"), split


def test_foreachitem_by_partitions_with_merged_outputs(deployed: Stack, tmp_path: Path) -> None:
    flow = _flow(
        tmp_path,
        _for_each_item("{partitions: 8}", "for-each-item-outputs-subflow"),
    )
    execution = deployed.run_json(flow, "--input", f"file=@{_items(tmp_path)}")
    assert execution["state"]["current"] == "SUCCESS", json.dumps(execution)[:3000] + deployed.tail()
    outputs = _runs(execution)["each"]["outputs"]
    assert outputs["numberOfBatches"] == 8
    assert outputs["iterations"]["SUCCESS"] == 8
    merged = deployed.cli("files", "get", outputs["uri"]).stdout.splitlines()
    assert len(merged) == 8
    first = json.loads(merged[0])["value"].splitlines()  # batch 1: lines 0, 8, 16, ... (dealt round-robin)
    assert [int(line) for line in first] == list(range(0, 102, 8))


def test_foreachitem_with_failing_children(deployed: Stack, tmp_path: Path) -> None:
    flow = _flow(tmp_path, _for_each_item("{rows: 40}", "failing"))
    flow.write_text(flow.read_text().replace('    inputs:\n      items: "{{ taskrun.items }}"\n', ""))
    execution = deployed.run_json(flow, "--input", f"file=@{_items(tmp_path)}")
    assert execution["state"]["current"] == "FAILED"
    outputs = _runs(execution)["each"]["outputs"]
    assert outputs["numberOfBatches"] == 3 and outputs["iterations"]["FAILED"] == 3


FLAKY = child_flows.flaky(NS, "[2, 5]")


def test_a_restart_of_the_parent_restarts_the_failed_batches_children(deployed: Stack, tmp_path: Path) -> None:
    # The reference's RETRY_FAILED (ForEachItemCaseTest.restartForEachItem): batches 2 and 5 fail on their
    # first run; the parent's restart restarts those two child executions themselves (same ids, their
    # successful task runs kept), no new child starts, the other four are not touched.
    child = tmp_path / "flaky.yaml"
    child.write_text(FLAKY)
    assert deployed.cli("flows", "deploy", str(child)).returncode == 0
    source = child_flows.with_iteration(_for_each_item("{rows: 20}", "flaky"))
    execution = deployed.run_json(_flow(tmp_path, source), "--input", f"file=@{_items(tmp_path)}")
    assert execution["state"]["current"] == "FAILED", json.dumps(execution)[:3000] + deployed.tail()
    outputs = _runs(execution)["each"]["outputs"]
    assert outputs["numberOfBatches"] == 6 and outputs["iterations"]["FAILED"] == 2
    assert outputs["failedBatches"] == [[2, 2], [5, 5]]

    def children(ended: int) -> Any:
        def settled() -> list[dict[str, Any]]:
            found = _executions(deployed, "--parent", execution["id"])
            done = [e for e in found if e["state"]["current"] in ("SUCCESS", "FAILED")]
            good = [e for e in found if e["state"]["current"] == "SUCCESS"]
            return found if len(found) == 6 and len(done) == 6 and len(good) == ended else []

        return settled

    first = {e["trigger"]["variables"]["iteration"]: e for e in deployed.poll(children(4), timeout=90)}
    assert sorted(i for i, e in first.items() if e["state"]["current"] == "FAILED") == [2, 5]

    restarted = deployed.cli("restart", execution["id"], "--wait", "--output", "json", timeout=300)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr + deployed.tail()
    again = json.loads(restarted.stdout)
    assert again["state"]["current"] == "SUCCESS", json.dumps(again)[:3000] + deployed.tail()
    each = _runs(again)["each"]
    assert each["outputs"]["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 6}
    assert each["outputs"]["numberOfBatches"] == 6
    assert not {"phase", "restartBatches", "refusedBatches", "replaced"} & set(each["outputs"])
    assert [a["state"]["current"] for a in each["attempts"]] == ["FAILED", "SUCCESS"]
    merged = deployed.cli("files", "get", each["outputs"]["uri"]).stdout.splitlines()
    assert len(merged) == 6  # the restarted children's outputs merged with the others'
    assert json.loads(merged[1])["value"].split() == [str(i) for i in range(20, 40)]

    after = {e["trigger"]["variables"]["iteration"]: e for e in deployed.poll(children(6), timeout=90)}
    assert {i: e["id"] for i, e in after.items()} == {i: e["id"] for i, e in first.items()}  # no new child
    restarted_batches = [i for i, e in after.items() if "RESTARTED" in [h["state"] for h in e["state"]["histories"]]]
    assert sorted(restarted_batches) == [2, 5]
    text = _log_text(deployed, execution["id"], "--wait", "60", timeout=120)
    assert "restart of 2 failed child execution(s) sent" in text, text[-3000:]
    assert "restarted the child executions of 2 failed batch(es)" in text, text[-3000:]
