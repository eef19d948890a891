"""The script runners against real processes: python and shell Scripts, python Commands, `beforeCommands`,
`env`, `failFast`, `containerImage` under the Process runner, outputs, and secrets kept out of the logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.common import input_secrets
from conveyor.common.state import StateType
from conveyor.common.tasks.registry import task_classes
from conveyor.worker.runners import runner_for
from conveyor.worker.runners.base import RunOutcome
from conveyor.worker.runners.scripts import PythonCommandsRunner, PythonScriptRunner, ShellScriptRunner
from conveyor.worker.testing import run_context

PY = "io.kestra.plugin.scripts.python.Script"
SH = "io.kestra.plugin.scripts.shell.Script"
PY_COMMANDS = "io.kestra.plugin.scripts.python.Commands"
SH_COMMANDS = "io.kestra.plugin.scripts.shell.Commands"


def run(spec: dict[str, Any], context: dict[str, Any] | None = None) -> tuple[RunOutcome, list[tuple[str, str]]]:
    ctx, logs = run_context(spec, context)
    task = task_classes()[spec["type"]].model_validate(spec)
    outcome = runner_for(task).run(task, ctx)
    return outcome, [(str(e.level), e.message) for e in logs]


@pytest.mark.parametrize(
    ("spec", "runner"),
    [
        ({"type": PY, "script": "x"}, PythonScriptRunner),
        ({"type": SH, "script": "x"}, ShellScriptRunner),
        ({"type": PY_COMMANDS, "commands": ["x"]}, PythonCommandsRunner),
    ],
)
def test_each_script_type_has_its_runner(spec: dict[str, Any], runner: type[Any]) -> None:
    task = task_classes()[spec["type"]].model_validate({"id": "t", **spec})
    assert type(runner_for(task)) is runner


def test_a_python_script_sets_outputs_and_logs_its_prints() -> None:
    script = (
        "import json, os, sys\n"
        "print('hello', '{{ inputs.name }}')\n"
        "print('to stderr', file=sys.stderr)\n"
        "print('::' + json.dumps({'outputs': {'total': 6, 'unbuffered': os.environ['PYTHONUNBUFFERED']}}) + '::')\n"
    )
    outcome, logs = run({"id": "py", "type": PY, "script": script}, {"inputs": {"name": "ada"}})
    assert outcome.state is StateType.SUCCESS, logs
    assert outcome.outputs == {"total": 6, "unbuffered": "true", "exitCode": 0}
    assert sorted(logs) == [("INFO", "hello ada"), ("WARN", "to stderr")]


def test_a_python_script_that_raises_fails_with_its_exit_code() -> None:
    outcome, _ = run({"id": "py", "type": PY, "script": "raise SystemExit(3)"})
    assert outcome.state is StateType.FAILED and outcome.outputs == {"exitCode": 3}
    assert outcome.error == "command exited with code 3"


def test_a_shell_script_runs_after_before_commands_with_env() -> None:
    spec = {
        "id": "sh",
        "type": SH,
        "beforeCommands": ["export GREETING=hello", "echo before"],
        "env": {"WHO": "{{ inputs.who }}"},
        "script": 'echo "$GREETING $WHO"\necho "::{\\"outputs\\": {\\"who\\": \\"$WHO\\"}}::"\n',
    }
    outcome, logs = run(spec, {"inputs": {"who": "grace"}})
    assert outcome.state is StateType.SUCCESS, logs
    assert logs == [("INFO", "before"), ("INFO", "hello grace")]
    assert outcome.outputs == {"who": "grace", "exitCode": 0}


def test_a_rendered_value_in_env_is_never_run_by_the_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    spec = {"id": "sh", "type": SH, "env": {"V": "{{ inputs.v }}"}, "script": 'echo "$V"'}
    outcome, logs = run(spec, {"inputs": {"v": f"$(touch {marker}); `touch {marker}`"}})
    assert outcome.state is StateType.SUCCESS and not marker.exists()
    assert logs == [("INFO", f"$(touch {marker}); `touch {marker}`")]


def test_fail_fast_stops_at_the_first_failing_command_unless_turned_off() -> None:
    commands = ["false", "echo after"]
    outcome, logs = run({"id": "c", "type": SH_COMMANDS, "commands": commands})
    assert outcome.state is StateType.FAILED and logs == []
    outcome, logs = run({"id": "c", "type": SH_COMMANDS, "commands": commands, "failFast": False})
    assert outcome.state is StateType.SUCCESS and logs == [("INFO", "after")]


def test_a_failing_before_command_fails_the_script() -> None:
    outcome, logs = run({"id": "sh", "type": SH, "beforeCommands": ["exit 4"], "script": "echo never"})
    assert outcome.state is StateType.FAILED and outcome.outputs == {"exitCode": 4} and logs == []


def test_python_commands_run_a_file_of_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("import os\nprint('unbuffered', os.environ['PYTHONUNBUFFERED'])\n")
    spec = {
        "id": "pc",
        "type": PY_COMMANDS,
        "workingDirectory": str(tmp_path),
        "beforeCommands": ["echo setup"],
        "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
        "commands": ["python3 main.py"],
    }
    outcome, logs = run(spec)
    assert outcome.state is StateType.SUCCESS, logs
    assert logs == [("INFO", "setup"), ("INFO", "unbuffered true")]


def test_container_image_is_ignored_with_a_warning() -> None:
    spec = {"id": "py", "type": PY, "containerImage": "python:3.13-slim", "script": "print('ran')"}
    outcome, logs = run(spec)
    assert outcome.state is StateType.SUCCESS
    assert logs[0][0] == "WARN" and "containerImage 'python:3.13-slim' is ignored" in logs[0][1]
    assert logs[1:] == [("INFO", "ran")]


def test_a_secret_a_script_prints_is_masked_in_its_log() -> None:
    sealed = input_secrets.seal("s3cr3t-value")
    spec = {"id": "py", "type": PY, "script": "print('token is {{ inputs.token }}')"}
    outcome, logs = run(spec, {"inputs": {"token": sealed}})
    assert outcome.state is StateType.SUCCESS
    assert logs == [("INFO", "token is ********")]


def test_the_script_file_is_removed_with_the_fresh_working_directory() -> None:
    script = 'import os\nprint(\'::{"outputs": {"cwd": "\' + os.getcwd() + \'"}}::\')'
    outcome, _ = run({"id": "py", "type": PY, "script": script})
    assert outcome.outputs is not None
    assert not Path(outcome.outputs["cwd"]).exists()
