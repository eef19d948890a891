"""`conveyor validate` warns of expressions that cannot compile and of defaults that do not fit, at their line;
the flow still loads (the reference loads it too; the run meets the problem)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.cli.main import main
from conveyor.common.flow_warnings import flow_warnings
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
    flow = load_flow(FLOW)  # it loads
    found = [p.format("f.yaml") for p in flow_warnings(FLOW, flow)]
    then = "(the task fails each time it renders this)"
    assert found == [
        f"f.yaml:10: tasks[0].commands[0]: invalid expression: unexpected '}}' {then}",
        "f.yaml:13:14: tasks[1].message: invalid expression: Unexpected end of template. Jinja was looking for "
        f"the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if' {then}",
    ]


def test_a_default_that_does_not_fit_its_input_is_located() -> None:
    text = (
        "id: t\nnamespace: a\ninputs:\n  - {id: n, type: INT, defaults: abc}\n"
        "  - id: m\n    type: INT\n    min: 5\n    defaults: 2\n"
        "  - {id: ok, type: INT, defaults: 7}\n  - {id: later, type: STRING, defaults: '{{ now() }}'}\n"
        "tasks:\n  - {id: t, type: io.kestra.plugin.core.log.Log, message: hi}\n"
    )
    found = [p.format("f.yaml") for p in flow_warnings(text, load_flow(text))]
    assert found == [
        "f.yaml:4:34: inputs[0].defaults: expected an integer (INT), got `abc` (an execution that does not give "
        "'n' is refused)",
        "f.yaml:8:15: inputs[1].defaults: it must be more than `5`, but received `2` (an execution that does not "
        "give 'm' is refused)",
    ]


def test_validate_warns_and_still_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    assert main(["validate", str(flow)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {flow}:13:14: tasks[1].message: invalid expression: Unexpected end of template" in err
    assert "valid flow a.t (3 tasks)" in err
