"""The reference's Subflow and ForEachItem test flows (`tests/corpus/kestra/subflows.json`) through the executor
core with several executions at once (`tests/unit/world.py`): parents, the flows they deploy, the children."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.storage import ExecutionScope, default_storage
from tests.conformance import CORPUS
from tests.unit.world import World

CASES: list[dict[str, Any]] = json.loads((CORPUS / "subflows.json").read_text())


def _label(case: dict[str, Any]) -> str:
    name = Path(case["flow"]).stem
    return f"{name}[{case['case']}]" if case.get("case") else name


@pytest.fixture(autouse=True)
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(tmp_path))
    default_storage.cache_clear()


def _children_problems(world: World, root: Execution, flow_id: str, spec: dict[str, Any]) -> list[str]:
    found = world.children(flow_id)
    problems = []
    if "count" in spec and len(found) != spec["count"]:
        problems.append(f"{flow_id}: {len(found)} children, expected {spec['count']}")
    for child in found:
        where = f"{flow_id} {child.id}"
        if "state" in spec and child.state.current.value != spec["state"]:
            problems.append(f"{where}: state {child.state.current.value}, expected {spec['state']}")
        if "taskRunCount" in spec and len(child.task_run_list) != spec["taskRunCount"]:
            problems.append(f"{where}: {len(child.task_run_list)} task runs, expected {spec['taskRunCount']}")
        labels = {label.key: label.value for label in child.labels}
        for key, value in spec.get("labels", {}).items():
            want = root.id if value == "$root" else value
            if labels.get(key) != want:
                problems.append(f"{where}: label {key}={labels.get(key)!r}, expected {want!r}")
        if "labelCount" in spec and len(labels) != spec["labelCount"]:
            problems.append(f"{where}: {len(labels)} labels {labels}, expected {spec['labelCount']}")
        if "triggerType" in spec and (child.trigger is None or child.trigger.type != spec["triggerType"]):
            problems.append(f"{where}: trigger {child.trigger}, expected type {spec['triggerType']}")
        if "itemsMatch" in spec and not re.match(spec["itemsMatch"], str((child.inputs or {}).get("items"))):
            problems.append(f"{where}: inputs.items {child.inputs}, expected to match {spec['itemsMatch']}")
    return problems


def _run_problems(root: Execution, task_id: str, spec: dict[str, Any]) -> list[str]:
    run = next(r for r in root.task_run_list if r.task_id == task_id)
    problems = []
    if "state" in spec and run.state.current.value != spec["state"]:
        problems.append(f"{task_id}: state {run.state.current.value}, expected {spec['state']}")
    if "attempts" in spec and len(run.attempts) != spec["attempts"]:
        problems.append(f"{task_id}: {len(run.attempts)} attempts, expected {spec['attempts']}")
    if "outputs" in spec:
        want, got = spec["outputs"], run.outputs or {}
        if want is None and got:
            problems.append(f"{task_id}: outputs {got}, expected none")
        for key, value in (want or {}).items():
            if got.get(key) != value:
                problems.append(f"{task_id}: outputs.{key} {got.get(key)!r}, expected {value!r}")
    return problems


@pytest.mark.parametrize("case", CASES, ids=_label)
def test_the_references_subflow_case_holds_in_the_executor_core(case: dict[str, Any]) -> None:
    world = World()
    for path in case.get("deploy", []):
        world.deploy((CORPUS / path).read_text())
    flow = load_flow((CORPUS / case["flow"]).read_text())
    inputs = dict(case.get("inputs") or {})
    if "fileLines" in case:  # the reference's storageUpload(): lines left-padded to 20
        uri = ExecutionScope(flow.namespace, flow.id, "upload").input_file("file", "file.txt")
        data = "".join(f"{i:>20}\n" for i in range(case["fileLines"])).encode()
        default_storage().put(uri, io.BytesIO(data))
        inputs["file"] = uri
    root_id = world.start(flow, inputs, labels=case.get("labels"))
    world.run()
    root = world.execution(root_id)
    expect = case["expect"]
    problems = []
    if root.state.current.value != expect["state"]:
        problems.append(f"state {root.state.current.value}, expected {expect['state']}")
    if "taskRunCount" in expect and len(root.task_run_list) != expect["taskRunCount"]:
        problems.append(f"{len(root.task_run_list)} task runs, expected {expect['taskRunCount']}")
    for task_id, spec in expect.get("taskRuns", {}).items():
        problems += _run_problems(root, task_id, spec)
    for flow_id, spec in expect.get("children", {}).items():
        problems += _children_problems(world, root, flow_id, spec)
    assert not problems, "\n".join(problems)
