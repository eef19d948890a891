"""The Commands runner against real processes: logs, `::{json}::` outputs and metrics, exit codes, kills."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.core import Commands
from conveyor.worker.runners.base import StopReason
from conveyor.worker.runners.commands import CommandsRunner, parse_directive
from conveyor.worker.testing import run_context

COMMANDS = "io.kestra.plugin.scripts.shell.Commands"


def commands(*lines: str, **props: Any) -> dict[str, Any]:
    return {"id": "sh", "type": COMMANDS, "commands": list(lines), **props}


def run(spec: dict[str, Any], context: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    ctx, logs = run_context(spec, context)
    outcome = CommandsRunner().run(Commands.model_validate(spec), ctx)
    return outcome, logs, ctx


def test_stdout_is_info_and_stderr_is_warn() -> None:
    outcome, logs, _ = run(commands("echo out", "echo err >&2"))
    assert outcome.state is StateType.SUCCESS
    assert outcome.outputs == {"exitCode": 0}
    assert sorted((e.level, e.message) for e in logs) == [(LogLevel.INFO, "out"), (LogLevel.WARN, "err")]


def test_outputs_and_metrics_lines_are_parsed_not_logged() -> None:
    spec = commands(
        """echo '::{"outputs": {"rows": 3, "name": "{{ inputs.name }}"}}::'""",
        """echo '::{"outputs": {"more": true}, "metrics": [{"name": "rows", "type": "counter", "value": 3,"""
        """ "tags": {"table": "t"}}, {"name": "load", "type": "timer", "value": 1.5}]}::'""",
        "echo ::not json::",
        """echo '::{"metrics": [{"name": "bad", "type": "gauge", "value": 1}]}::'""",
    )
    outcome, logs, ctx = run(spec, {"inputs": {"name": "x"}})
    assert outcome.state is StateType.SUCCESS
    assert outcome.outputs == {"rows": 3, "name": "x", "more": True, "exitCode": 0}
    assert [(m.type, m.name, m.value, m.tags) for m in ctx.metrics] == [
        ("counter", "rows", 3.0, {"table": "t"}),
        ("timer", "load", 1.5, {}),
    ]
    messages = [e.message for e in logs]
    assert messages[0] == "::not json::"
    assert "type` must be counter or timer" in messages[1]
    assert len(messages) == 2


def test_a_non_zero_exit_fails_with_the_code_in_outputs() -> None:
    outcome, _, _ = run(commands("echo before", "exit 3"))
    assert outcome.state is StateType.FAILED
    assert outcome.error == "command exited with code 3"
    assert outcome.outputs == {"exitCode": 3}


def test_env_values_are_rendered_and_passed_as_environment_not_script() -> None:
    spec = commands('printf "%s\\n" "$GREETING"', env={"GREETING": "{{ inputs.g }}"})
    outcome, logs, _ = run(spec, {"inputs": {"g": "$(echo injected); `id`"}})
    assert outcome.state is StateType.SUCCESS
    assert [e.message for e in logs] == ["$(echo injected); `id`"]


def test_the_workers_own_settings_are_not_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_KAFKA_SASL_PASSWORD", "secret")
    _, logs, _ = run(commands('echo "[$CONVEYOR_KAFKA_SASL_PASSWORD]"'))
    assert [e.message for e in logs] == ["[]"]


def test_a_fresh_directory_is_used_and_removed(tmp_path: Path) -> None:
    outcome, logs, _ = run(commands("pwd", "touch made-here"))
    cwd = Path(logs[0].message)
    assert outcome.state is StateType.SUCCESS
    assert cwd.name.startswith("conveyor-commands-")
    assert not cwd.exists()


def test_working_directory_is_honoured(tmp_path: Path) -> None:
    outcome, logs, _ = run(commands("pwd", "touch made-here", working_directory=str(tmp_path)))
    assert outcome.state is StateType.SUCCESS
    assert Path(logs[0].message).resolve() == tmp_path.resolve()
    assert (tmp_path / "made-here").exists()


def test_the_interpreter_gets_the_joined_commands_as_last_argument() -> None:
    spec = commands("import sys", "print(sys.argv[1:] == [])", interpreter=["python3", "-c"])
    _, logs, _ = run(spec)
    assert [e.message for e in logs] == ["True"]


def test_a_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    spec = commands(f"sleep 60 & echo $! > {pid_file}", "echo started", "wait")
    ctx, logs = run_context(spec)
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(o=CommandsRunner().run(Commands.model_validate(spec), ctx)))
    thread.start()
    deadline = time.monotonic() + 10
    while not logs and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.message for e in logs] == ["started"]
    started = time.monotonic()
    ctx.stop(StopReason.KILLED)
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 4
    assert result["o"].outputs["exitCode"] != 0
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is dead enough)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_background_children_holding_the_pipes_do_not_hang_the_attempt() -> None:
    started = time.monotonic()
    outcome, logs, _ = run(commands("sleep 30 &", "echo done"))
    assert outcome.state is StateType.SUCCESS
    assert [e.message for e in logs] == ["done"]
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ('::{"outputs": {"a": 1}}::', {"outputs": {"a": 1}}),
        ("::{}::", {}),
        ('::{"outputs": {"a": 1}}', None),
        (' ::{"outputs": {}}::', None),
        ("::[1]::", None),
        ("::{not json}::", None),
        ("plain", None),
    ],
)
def test_parse_directive(line: str, parsed: dict[str, Any] | None) -> None:
    assert parse_directive(line) == parsed
