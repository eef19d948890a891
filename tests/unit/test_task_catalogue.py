"""The task catalogue's models: OutputValues, http.Request, python/shell Script, python.Commands and the
Commands options; their defaults, the reference's aliases and deprecated spellings, and refusals that name
the file, line and field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.loader import load_flow
from conveyor.common.tasks import core, http, output, scripts
from conveyor.common.tasks.base import LogLevel, Task
from conveyor.common.tasks.registry import task_classes


def flow_with(task: str) -> str:
    return "id: f\nnamespace: conveyor.tests\ntasks:\n" + task


def only_task(task: str) -> Task:
    (first,) = load_flow(flow_with(task), "flows/f.yaml").tasks
    return first


def problems(task: str) -> list[tuple[int | None, int | None, str, str]]:
    with pytest.raises(FlowError) as caught:
        load_flow(flow_with(task), "flows/f.yaml")
    return [(p.line, p.column, p.field, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("io.kestra.plugin.core.output.OutputValues", output.OutputValues),
        ("io.kestra.plugin.core.http.Request", http.Request),
        ("io.kestra.plugin.fs.http.Request", http.Request),
        ("io.kestra.plugin.scripts.python.Script", scripts.PythonScript),
        ("io.kestra.plugin.scripts.python.Commands", scripts.PythonCommands),
        ("io.kestra.plugin.scripts.shell.Script", scripts.ShellScript),
        ("io.kestra.plugin.scripts.shell.Commands", core.Commands),
        ("io.kestra.core.tasks.scripts.Bash", core.Commands),
    ],
)
def test_each_type_name_is_registered(name: str, cls: type[Task]) -> None:
    assert task_classes()[name] is cls


def test_output_values_keep_any_values() -> None:
    task = only_task(
        "  - id: out\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n"
        "      a: '{{ 1 + 1 }}'\n      nested: {list: [x, '{{ task.id }}']}\n"
    )
    assert isinstance(task, output.OutputValues)
    assert task.values == {"a": "{{ 1 + 1 }}", "nested": {"list": ["x", "{{ task.id }}"]}}


def test_request_defaults_are_the_references() -> None:
    task = only_task("  - id: r\n    type: io.kestra.plugin.core.http.Request\n    uri: http://h/x\n")
    assert isinstance(task, http.Request)
    assert (task.method, task.content_type, task.body, task.form_data, task.headers) == (
        "GET",
        "application/json",
        None,
        None,
        {},
    )
    opts = task.options
    assert (opts.follow_redirects, opts.allow_failed, opts.default_charset) == (True, False, "UTF-8")
    assert opts.connect_limit() is None and opts.read_limit() == timedelta(seconds=300)
    assert opts.body_limit() == 10 * 1024 * 1024 and not task.failure_allowed()


def test_request_options_new_and_deprecated_spellings() -> None:
    task = only_task(
        "  - id: r\n    type: io.kestra.plugin.core.http.Request\n    uri: http://h/x\n    allowFailed: true\n"
        "    options:\n      connectTimeout: PT2S\n      readTimeout: PT5S\n      basicAuthUser: u\n"
        "      basicAuthPassword: p\n      logLevel: DEBUG\n      maxContentLength: 100\n"
    )
    assert isinstance(task, http.Request)
    opts = task.options
    assert opts.connect_limit() == timedelta(seconds=2) and opts.read_limit() == timedelta(seconds=5)
    assert (opts.basic_auth_user, opts.basic_auth_password, opts.log_level) == ("u", "p", LogLevel.DEBUG)
    assert opts.logged() == {http.LoggingType.REQUEST_HEADERS, http.LoggingType.RESPONSE_HEADERS}
    assert opts.body_limit() == 100 and task.failure_allowed()


def test_request_options_timeout_and_auth_objects() -> None:
    task = only_task(
        "  - id: r\n    type: io.kestra.plugin.core.http.Request\n    uri: http://h/x\n    options:\n"
        "      timeout: {connectTimeout: PT1S, readIdleTimeout: PT3S}\n"
        "      auth: {type: BEARER, token: abc}\n      allowFailed: true\n      logs: [RESPONSE_BODY]\n"
    )
    assert isinstance(task, http.Request)
    opts = task.options
    assert opts.connect_limit() == timedelta(seconds=1) and opts.read_limit() == timedelta(seconds=3)
    assert isinstance(opts.auth, http.BearerAuth) and opts.auth.token == "abc"
    assert task.failure_allowed() and opts.logged() == {http.LoggingType.RESPONSE_BODY}


@pytest.mark.parametrize(
    ("extra", "line", "field", "message"),
    [
        ("    uri: http://h\n    bogus: 1\n", 7, "tasks[0].bogus", "unknown property 'bogus'"),
        ("    uri: http://h\n    options:\n      readTimout: PT1S\n", 8, "tasks[0].options.readTimout", "unknown"),
        (
            "    uri: http://h\n    options:\n      auth: {type: DIGEST}\n",
            8,
            "tasks[0].options.auth.type",
            "unknown type 'DIGEST'; expected one of 'BASIC', 'BEARER'",
        ),
        ("    options: {}\n", 4, "tasks[0].uri", "required"),
        ("    uri: http://h\n    headers: [a]\n", 7, "tasks[0].headers", "dictionary"),
    ],
)
def test_bad_requests_name_line_and_field(extra: str, line: int, field: str, message: str) -> None:
    found = problems("  - id: r\n    type: io.kestra.plugin.core.http.Request\n" + extra)
    assert any(p[0] == line and p[2] == field and message.lower() in p[3].lower() for p in found), found


@pytest.mark.parametrize("kind", ["python.Script", "shell.Script"])
def test_scripts_take_the_references_properties(kind: str) -> None:
    task = only_task(
        f"  - id: s\n    type: io.kestra.plugin.scripts.{kind}\n    containerImage: python:3.13-slim\n"
        "    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    beforeCommands: [echo hi]\n"
        "    env: {A: b}\n    interpreter: [/bin/bash, -c]\n    failFast: false\n    script: |\n      print(1)\n"
    )
    assert isinstance(task, scripts.Script)
    assert (task.script, task.before_commands, task.env, task.interpreter) == (
        "print(1)\n",
        ["echo hi"],
        {"A": "b"},
        ["/bin/bash", "-c"],
    )
    assert task.container_image == "python:3.13-slim" and task.task_runner is not None and not task.fail_fast


def test_commands_gain_before_commands_and_task_runner() -> None:
    for name in ("shell.Commands", "python.Commands"):
        task = only_task(
            f"  - id: c\n    type: io.kestra.plugin.scripts.{name}\n    beforeCommands: [pip --version]\n"
            "    taskRunner: {type: io.kestra.plugin.core.runner.Process}\n    runner: PROCESS\n"
            "    commands: [python -V]\n"
        )
        assert isinstance(task, core.Commands)
        assert task.before_commands == ["pip --version"] and task.fail_fast and task.container_image is None


@pytest.mark.parametrize(
    ("extra", "line", "field", "message"),
    [
        (
            "    taskRunner: {type: io.kestra.plugin.scripts.runner.docker.Docker}\n    script: x\n",
            6,
            "tasks[0].taskRunner.type",
            "io.kestra.plugin.core.runner.Process",
        ),
        ("    runner: DOCKER\n    script: x\n", 6, "tasks[0].runner", "expected 'PROCESS'"),
        ("    script: ''\n", 6, "tasks[0].script", "at least 1"),
        ("    script: x\n    interpreter: []\n", 7, "tasks[0].interpreter", "at least 1"),
        ("    script: x\n    outputFile: a\n", 7, "tasks[0].outputFile", "unknown property"),
        ("    beforeCommands: [a]\n", 4, "tasks[0].script", "required"),
    ],
)
def test_bad_scripts_name_line_and_field(extra: str, line: int, field: str, message: str) -> None:
    found = problems("  - id: s\n    type: io.kestra.plugin.scripts.python.Script\n" + extra)
    assert any(p[0] == line and p[2] == field and message.lower() in p[3].lower() for p in found), found


def test_a_validated_task_round_trips_as_json() -> None:
    spec: dict[str, Any] = {
        "id": "r",
        "type": "io.kestra.plugin.core.http.Request",
        "uri": "http://h",
        "options": {"timeout": {"connectTimeout": "PT1S"}, "auth": {"type": "BASIC", "username": "u"}},
    }
    task = http.Request.model_validate(spec)
    again = http.Request.model_validate(task.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert again == task
