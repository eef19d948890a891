"""The reference's expressions end to end on the real servers: the example flow, and an over-limit jq in an If
condition that fails its execution quickly while another execution on the same executor goes on."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.cli import ROOT
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

OVER_LIMIT = """id: over-limit
namespace: conveyor.tests
tasks:
  - id: cond
    type: io.kestra.plugin.core.flow.If
    condition: "{{ 1 | jq('[range(20000000)]') | length > 0 }}"
    then:
      - {id: never, type: io.kestra.plugin.core.log.Log, message: never}
"""
BESIDE = """id: beside
namespace: conveyor.tests
tasks:
  - {id: first, type: io.kestra.plugin.core.debug.Return, format: "{{ range(1, 3) | join('-') }}"}
  - {id: second, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.first.value | split('-') | last }}"}
"""


def runs(execution: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [r for r in execution["taskRunList"] if r["taskId"] == task_id]


def test_the_expressions_example_succeeds_with_the_reference_results(e2e_stack: Stack) -> None:
    execution = e2e_stack.run_json(ROOT / "examples" / "expressions.yaml")
    assert execution["state"]["current"] == "SUCCESS", e2e_stack.tail()
    (lists,) = runs(execution, "lists")
    assert lists["outputs"]["value"] == '["c","b","a"] [[1,2],[3,4],[5]] [1,2,3] 255 no block 012'


def test_an_over_limit_jq_fails_its_execution_and_others_go_on(e2e_stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "over.yaml").write_text(OVER_LIMIT)
    (tmp_path / "beside.yaml").write_text(BESIDE)
    with ThreadPoolExecutor(max_workers=2) as pool:
        over, beside = pool.map(e2e_stack.run_json, [tmp_path / "over.yaml", tmp_path / "beside.yaml"])
    assert over["state"]["current"] == "FAILED", e2e_stack.tail()
    (cond,) = runs(over, "cond")
    assert cond["state"]["current"] == "FAILED" and runs(over, "never") == []
    done = e2e_stack.cli("logs", over["id"], "--output", "json", "--wait", "60")
    assert done.returncode == 0, done.stderr
    messages = [line["message"] for line in json.loads(done.stdout) if line["taskId"] == "cond"]
    assert any("CONVEYOR_JQ_MAX_RESULT" in m for m in messages), messages
    assert beside["state"]["current"] == "SUCCESS", e2e_stack.tail()
    (second,) = runs(beside, "second")
    assert second["outputs"] == {"value": "3"}
