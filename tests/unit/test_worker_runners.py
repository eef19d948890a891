"""The core runners, run directly with a RunContext (no Kafka, no worker loop)."""

from __future__ import annotations

import threading
import time
from typing import Any, TypeVar

import pytest

from conveyor.common.errors import RenderError
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel, Task
from conveyor.common.tasks.core import Fail, Log, Return, Sleep
from conveyor.common.tasks.registry import task_classes
from conveyor.worker.runners import runner_for
from conveyor.worker.runners.base import RunContext, StopReason
from conveyor.worker.runners.core import FailRunner, LogRunner, ReturnRunner, SleepRunner
from conveyor.worker.testing import run_context

RETURN = "io.kestra.plugin.core.debug.Return"
LOG = "io.kestra.plugin.core.log.Log"
SLEEP = "io.kestra.plugin.core.flow.Sleep"
FAIL = "io.kestra.plugin.core.execution.Fail"


T = TypeVar("T", bound=Task)


def task_of(spec: dict[str, Any], kind: type[T]) -> T:
    task = task_classes()[spec["type"]].model_validate(spec)
    assert isinstance(task, kind)
    return task


def test_return_renders_format_into_value() -> None:
    spec = {"id": "ret", "type": RETURN, "format": "{{ taskrun.id }} in {{ task.id }}"}
    ctx, _ = run_context(spec, {"taskrun": {"id": "tr1"}})
    outcome = ReturnRunner().run(task_of(spec, Return), ctx)
    assert outcome.state is StateType.SUCCESS
    assert outcome.outputs == {"value": "tr1 in ret"}


def test_return_without_format_has_no_outputs() -> None:
    spec = {"id": "ret", "type": RETURN}
    ctx, _ = run_context(spec)
    outcome = ReturnRunner().run(task_of(spec, Return), ctx)
    assert outcome.state is StateType.SUCCESS
    assert outcome.outputs is None


def test_return_with_an_undefined_variable_raises_a_render_error_naming_the_task() -> None:
    spec = {"id": "ret", "type": RETURN, "format": "{{ nope.value }}"}
    ctx, _ = run_context(spec)
    with pytest.raises(RenderError, match=r"task 'ret'.*nope"):
        ReturnRunner().run(task_of(spec, Return), ctx)


def test_log_renders_each_message_of_a_list_at_its_level() -> None:
    spec = {"id": "log", "type": LOG, "message": ["one {{ inputs.x }}", "two"], "level": "WARN"}
    ctx, logs = run_context(spec, {"inputs": {"x": 1}})
    outcome = LogRunner().run(task_of(spec, Log), ctx)
    assert outcome.state is StateType.SUCCESS
    assert [(e.level, e.message) for e in logs] == [(LogLevel.WARN, "one 1"), (LogLevel.WARN, "two")]
    entry = logs[0]
    assert entry.task_id == "log"
    assert entry.task_run_id == ctx.job.task_run.id
    assert entry.execution_id == ctx.job.task_run.execution_id
    assert entry.attempt_number == 1
    assert entry.worker_id == "test-worker"


def test_log_level_drops_lines_below_it() -> None:
    spec = {"id": "log", "type": LOG, "message": "hi"}
    ctx, logs = run_context(spec)
    ctx.log_level = LogLevel.WARN
    for level in LogLevel:
        ctx.log(level, level.value)
    assert [e.message for e in logs] == ["WARN", "ERROR"]


@pytest.mark.parametrize(
    ("condition", "state"),
    [
        (None, StateType.FAILED),
        ("{{ 1 == 1 }}", StateType.FAILED),
        ("yes", StateType.FAILED),
        ("{{ 1 == 2 }}", StateType.SUCCESS),
        ("0", StateType.SUCCESS),
        ("-0", StateType.SUCCESS),
        ("", StateType.SUCCESS),
        (" False ", StateType.SUCCESS),
    ],
)
def test_fail_fails_unless_its_condition_is_falsy(condition: str | None, state: StateType) -> None:
    spec: dict[str, Any] = {"id": "fail", "type": FAIL, "errorMessage": "bad {{ inputs.x }}"}
    if condition is not None:
        spec["condition"] = condition
    ctx, _ = run_context(spec, {"inputs": {"x": "input"}})
    outcome = FailRunner().run(task_of(spec, Fail), ctx)
    assert outcome.state is state
    assert outcome.error == ("bad input" if state is StateType.FAILED else None)


def test_sleep_waits_its_duration() -> None:
    spec = {"id": "nap", "type": SLEEP, "duration": "PT0.2S"}
    ctx, _ = run_context(spec)
    started = time.monotonic()
    assert SleepRunner().run(task_of(spec, Sleep), ctx).state is StateType.SUCCESS
    assert time.monotonic() - started >= 0.2


def test_sleep_ends_as_soon_as_the_attempt_is_stopped() -> None:
    spec = {"id": "nap", "type": SLEEP, "duration": "PT60S"}
    ctx, _ = run_context(spec)
    threading.Timer(0.1, ctx.stop, (StopReason.KILLED,)).start()
    started = time.monotonic()
    SleepRunner().run(task_of(spec, Sleep), ctx)
    assert time.monotonic() - started < 5
    assert ctx.reason is StopReason.KILLED


def test_the_first_stop_reason_wins() -> None:
    ctx, _ = run_context({"id": "nap", "type": SLEEP, "duration": "PT1S"})
    assert ctx.stop(StopReason.TIMEOUT)
    assert not ctx.stop(StopReason.KILLED)
    assert ctx.reason is StopReason.TIMEOUT and ctx.stopped.is_set()


def test_render_sees_the_task_id_and_type() -> None:
    ctx, _ = run_context({"id": "t1", "type": RETURN})
    assert ctx.render({"a": ["{{ task.id }}", "{{ task.type }}"], "n": 3}) == {"a": ["t1", RETURN], "n": 3}


def test_metrics_are_collected_with_string_tags() -> None:
    ctx: RunContext
    ctx, _ = run_context({"id": "t1", "type": RETURN})
    ctx.metric("rows", 3, tags={"table": "a", "shard": 1})
    ctx.metric("load", 0.5, "timer")
    assert [(m.type, m.name, m.value, m.tags) for m in ctx.metrics] == [
        ("counter", "rows", 3.0, {"table": "a", "shard": "1"}),
        ("timer", "load", 0.5, {}),
    ]


@pytest.mark.parametrize(
    "type_name",
    [RETURN, "io.kestra.core.tasks.debugs.Return", LOG, SLEEP, FAIL, "io.kestra.core.tasks.scripts.Bash"],
)
def test_every_core_type_and_alias_has_a_registered_runner(type_name: str) -> None:
    spec: dict[str, Any] = {
        "id": "t",
        "type": type_name,
        "message": "m",
        "duration": "PT1S",
        "commands": ["true"],
    }
    cls = task_classes()[type_name]
    fields = {k: v for k, v in spec.items() if k in ("id", "type") or k in cls.model_fields}
    assert runner_for(cls.model_validate(fields)) is not None
