"""`conveyor validate` warns of expressions that cannot compile, at their line; the flow still loads (the
reference loads it too, and fails the task when it runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.cli.main import main
from conveyor.common.expression_check import expression_warnings
from conveyor.common.loader import load_flow

FLOW = """id: t
namespace: a
description: "a {{ broken, never rendered"
tasks:
  - id: a
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - |
        echo one
        echo "{{ inputs.x | upper }"
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: "{% if true %}yes"
  - id: c
    type: io.kestra.plugin.core.log.Log
    message: "{{ fine }} {% if x %}also{% endif %}"
"""


def test_each_expression_that_cannot_compile_is_located() -> None:
    load_flow(FLOW)  # it loads
    found = [p.format("f.yaml") for p in expression_warnings(FLOW)]
    assert found == [
        "f.yaml:10: tasks[0].commands[0]: invalid expression: unexpected '}'",
        "f.yaml:13:14: tasks[1].message: invalid expression: Unexpected end of template. Jinja was looking for "
        "the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'",
    ]


def test_validate_warns_and_still_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    assert main(["validate", str(flow)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {flow}:13:14: tasks[1].message: invalid expression: Unexpected end of template" in err
    assert "valid flow a.t (3 tasks)" in err
