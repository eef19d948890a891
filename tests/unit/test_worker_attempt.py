"""Rules every attempt follows whatever its task: timeouts, kills, shutdown, failures, the duration metric."""

from __future__ import annotations

import threading
import time
from typing import Any

from conveyor.common.events import LogEntry
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel, Task
from conveyor.worker.attempt import Attempt
from conveyor.worker.errors import TaskError
from conveyor.worker.runners.base import RunContext, RunOutcome, StopReason
from conveyor.worker.testing import make_job

RETURN = "io.kestra.plugin.core.debug.Return"
SLEEP = "io.kestra.plugin.core.flow.Sleep"
COMMANDS = "io.kestra.plugin.scripts.shell.Commands"


def attempt_of(task: dict[str, Any], context: dict[str, Any] | None = None) -> tuple[Attempt, list[LogEntry]]:
    logs: list[LogEntry] = []
    return Attempt(make_job(task, context), worker_id="w1", emit_log=logs.append), logs


def test_a_successful_attempt_reports_outputs_ids_and_a_duration_timer() -> None:
    attempt, _ = attempt_of({"id": "ret", "type": RETURN, "format": "{{ x }}"}, {"x": "hello"})
    result = attempt.run()
    assert result is not None
    assert result.state is StateType.SUCCESS
    assert result.outputs == {"value": "hello"}
    assert (result.execution_id, result.task_run_id, result.attempt, result.worker_id) == (
        attempt.execution_id,
        attempt.task_run_id,
        1,
        "w1",
    )
    [duration] = result.metrics
    assert (duration.type, duration.name) == ("timer", "duration")
    assert 0 <= duration.value < 5


def test_running_is_reported_for_the_same_attempt() -> None:
    attempt, _ = attempt_of({"id": "ret", "type": RETURN})
    running = attempt.running()
    assert running.state is StateType.RUNNING
    assert (running.task_run_id, running.attempt, running.worker_id) == (attempt.task_run_id, 1, "w1")


def test_a_render_error_fails_the_attempt_with_its_message_and_an_error_log() -> None:
    attempt, logs = attempt_of({"id": "ret", "type": RETURN, "format": "{{ missing }}"})
    result = attempt.run()
    assert result is not None
    assert result.state is StateType.FAILED
    assert result.error is not None and "task 'ret'" in result.error and "missing" in result.error
    assert [(e.level, e.message) for e in logs] == [(LogLevel.ERROR, result.error)]
    assert [m.name for m in result.metrics] == ["duration"]


class _Exploding:
    def run(self, task: Task, ctx: RunContext) -> RunOutcome:
        raise ZeroDivisionError("division by zero")


class _Refusing:
    def run(self, task: Task, ctx: RunContext) -> RunOutcome:
        raise TaskError("the table does not exist")


def test_any_exception_from_a_runner_fails_the_attempt() -> None:
    job = make_job({"id": "ret", "type": RETURN})
    result = Attempt(job, runners=lambda _: _Exploding()).run()
    assert result is not None
    assert result.state is StateType.FAILED
    assert result.error == "ZeroDivisionError: division by zero"
    result = Attempt(job, runners=lambda _: _Refusing()).run()
    assert result is not None and result.error == "the table does not exist"


def test_an_unknown_type_or_an_invalid_task_fails_the_attempt() -> None:
    result = attempt_of({"id": "x", "type": "com.example.Nope"})[0].run()
    assert result is not None and result.state is StateType.FAILED
    assert result.error == "unknown task type 'com.example.Nope'"
    result = attempt_of({"id": "x", "type": RETURN, "fromat": "typo"})[0].run()
    assert result is not None and result.state is StateType.FAILED
    assert result.error is not None and "fromat" in result.error
    result = attempt_of({"id": "x", "type": "io.kestra.plugin.core.flow.Sequential", "tasks": []})[0].run()
    assert result is not None and result.error is not None and "flowable" in result.error


def test_a_timeout_stops_the_attempt_and_fails_it() -> None:
    attempt, logs = attempt_of({"id": "nap", "type": SLEEP, "duration": "PT60S", "timeout": "PT0.2S"})
    started = time.monotonic()
    result = attempt.run()
    assert time.monotonic() - started < 5
    assert result is not None
    assert result.state is StateType.FAILED
    assert result.error == "Task timed out after PT0.2S"
    assert any(e.level is LogLevel.ERROR and "Timeout" in e.message for e in logs)


def test_a_timeout_kills_a_running_command() -> None:
    attempt, _ = attempt_of({"id": "sh", "type": COMMANDS, "commands": ["sleep 60"], "timeout": "PT1S"})
    started = time.monotonic()
    result = attempt.run()
    assert time.monotonic() - started < 6
    assert result is not None
    assert (result.state, result.error) == (StateType.FAILED, "Task timed out after PT1S")


def test_a_kill_reports_killed() -> None:
    attempt, _ = attempt_of({"id": "nap", "type": SLEEP, "duration": "PT60S"})
    threading.Timer(0.1, attempt.stop, (StopReason.KILLED,)).start()
    result = attempt.run()
    assert result is not None
    assert result.state is StateType.KILLED
    assert [m.name for m in result.metrics] == ["duration"]


def test_an_attempt_abandoned_at_shutdown_reports_nothing() -> None:
    attempt, _ = attempt_of({"id": "nap", "type": SLEEP, "duration": "PT60S"})
    threading.Timer(0.1, attempt.stop, (StopReason.SHUTDOWN,)).start()
    assert attempt.run() is None


def test_the_tasks_log_level_filters_its_lines() -> None:
    task = {"id": "log", "type": "io.kestra.plugin.core.log.Log", "message": ["a", "b"], "logLevel": "WARN"}
    attempt, logs = attempt_of({**task, "level": "INFO"})
    assert attempt.run() is not None
    assert logs == []
    attempt, logs = attempt_of({**task, "level": "ERROR"})
    attempt.run()
    assert [e.message for e in logs] == ["a", "b"]
