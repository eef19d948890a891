"""`secret()`: its backends (env in base64, a folder of files), the error naming a missing secret, and the
value masked (`******`) in every log line, output and error an attempt produces."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from conveyor.common.events import LogEntry
from conveyor.common.expr_context import Revealed, allowed_envs
from conveyor.common.render import render
from conveyor.common.secret_backends import EnvSecrets, FileSecrets, SecretNotFound, backend_of
from conveyor.common.settings import ContextSettings, SecretsSettings
from conveyor.common.state import StateType
from conveyor.worker.attempt import Attempt
from conveyor.worker.testing import make_job

VALUE = "hunter2-s3cr3t"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_env_backend_decodes_base64_of_secret_name() -> None:
    backend = EnvSecrets({"SECRET_API_TOKEN": b64(VALUE)})
    assert backend.get("API_TOKEN") == VALUE
    assert backend.get("api_token") == VALUE  # the variable's name is upper case


def test_the_env_backend_names_the_missing_secret_and_its_variable() -> None:
    with pytest.raises(SecretNotFound, match=r"secret 'NOPE' is not defined: no environment variable SECRET_NOPE"):
        EnvSecrets({}).get("NOPE")


def test_the_env_backend_refuses_a_value_that_is_not_base64_without_showing_it() -> None:
    with pytest.raises(SecretNotFound) as caught:
        EnvSecrets({"SECRET_RAW": "not base64 !!"}).get("RAW")
    assert "not base64" in str(caught.value) and "!!" not in str(caught.value)


def test_the_files_backend_reads_one_file_per_secret(tmp_path: Path) -> None:
    (tmp_path / "DB_PASSWORD").write_text(VALUE + "\n")
    backend = backend_of(SecretsSettings(backend="files", directory=tmp_path))
    assert isinstance(backend, FileSecrets)
    assert backend.get("DB_PASSWORD") == VALUE
    with pytest.raises(SecretNotFound, match="secret 'OTHER' is not defined: no file OTHER"):
        backend.get("OTHER")


def test_a_name_cannot_leave_the_folder(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFound, match="not valid"):
        FileSecrets(tmp_path).get("../etc/passwd")


def test_the_files_backend_needs_a_directory() -> None:
    with pytest.raises(ValueError, match="CONVEYOR_SECRETS_DIRECTORY"):
        SecretsSettings(backend="files")


def test_secret_renders_and_records_the_value_and_a_json_subkey(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_JSON_CREDS", b64('{"user": "ada", "password": "pw-123"}'))
    monkeypatch.setenv("SECRET_TOKEN", b64(VALUE))
    revealed = Revealed()
    assert render("{{ secret('TOKEN') }}", {"_revealed": revealed}) == VALUE
    assert render("{{ secret('JSON_CREDS', subkey='password') }}", {"_revealed": revealed}) == "pw-123"
    assert revealed.redact(f"a {VALUE} and pw-123") == "a ****** and ******"


def attempt_of(task: dict[str, Any]) -> tuple[Attempt, list[LogEntry]]:
    logs: list[LogEntry] = []
    return Attempt(make_job(task, {"flow": {"namespace": "ns", "id": "f"}}), worker_id="w", emit_log=logs.append), logs


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SECRET_TOKEN", b64(VALUE))
    return VALUE


def test_a_log_task_printing_a_secret_logs_it_masked(token: str) -> None:
    attempt, logs = attempt_of(
        {"id": "l", "type": "io.kestra.plugin.core.log.Log", "message": "t={{ secret('TOKEN') }}"}
    )
    result = attempt.run()
    assert result is not None and result.state is StateType.SUCCESS
    assert [e.message for e in logs] == ["t=******"]


def test_a_commands_echo_of_a_secret_is_masked(token: str) -> None:
    task = {
        "id": "c",
        "type": "io.kestra.plugin.scripts.shell.Commands",
        "commands": ['echo "token is $TOKEN"', "echo {{ secret('TOKEN') }} >&2"],
        "env": {"TOKEN": "{{ secret('TOKEN') }}"},
    }
    attempt, logs = attempt_of(task)
    result = attempt.run()
    assert result is not None and result.state is StateType.SUCCESS, result
    messages = [e.message for e in logs]
    assert "token is ******" in messages and "******" in messages
    assert not any(token in m for m in messages)


def test_a_return_output_of_a_secret_is_masked(token: str) -> None:
    attempt, _ = attempt_of(
        {"id": "r", "type": "io.kestra.plugin.core.debug.Return", "format": "{{ secret('TOKEN') }}!"}
    )
    result = attempt.run()
    assert result is not None and result.outputs == {"value": "******!"}


def test_a_failing_task_error_never_carries_the_secret(token: str) -> None:
    task = {"id": "f", "type": "io.kestra.plugin.core.execution.Fail", "errorMessage": "bad {{ secret('TOKEN') }}"}
    attempt, logs = attempt_of(task)
    result = attempt.run()
    assert result is not None and result.state is StateType.FAILED
    assert result.error == "bad ******"
    assert [e.message for e in logs] == ["bad ******"]


def test_a_missing_secret_fails_the_task_run_naming_it() -> None:
    attempt, logs = attempt_of(
        {"id": "r", "type": "io.kestra.plugin.core.debug.Return", "format": "{{ secret('ABSENT_X') }}"}
    )
    result = attempt.run()
    assert result is not None and result.state is StateType.FAILED
    assert result.error is not None and "secret 'ABSENT_X' is not defined" in result.error
    assert "task 'r'" in result.error
    assert [e.message for e in logs] == [result.error]


def test_envs_are_only_the_allowlisted_variables_named_as_the_reference_does() -> None:
    environ = {"ENV_MY_VAR": "a", "ENV_OTHER": "b", "HOME": "/h", "CONVEYOR_KAFKA_SASL_PASSWORD": "p"}
    assert allowed_envs(["ENV_*", "HOME", "ABSENT"], environ) == {"my_var": "a", "other": "b", "home": "/h"}
    assert allowed_envs([], environ) == {}


def test_context_settings_read_the_allowlist_and_globals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_CONTEXT_ENV_ALLOWLIST", "ENV_A, HOME")
    monkeypatch.setenv("CONVEYOR_CONTEXT_GLOBALS", '{"region": "eu", "n": 2}')
    settings = ContextSettings()
    assert settings.env_allowlist == ["ENV_A", "HOME"]
    assert settings.globals == {"region": "eu", "n": 2}


def test_envs_and_globals_render_from_the_process_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.common.expr_context import variables

    monkeypatch.setenv("CONVEYOR_CONTEXT_ENV_ALLOWLIST", "ENV_*")
    monkeypatch.setenv("CONVEYOR_CONTEXT_GLOBALS", '{"region": "eu"}')
    monkeypatch.setenv("ENV_STAGE", "prod")
    monkeypatch.setenv("NOT_LISTED", "hidden")
    variables.cache_clear()
    try:
        assert render("{{ envs.stage }} {{ globals.region }}", {}) == "prod eu"
        assert render("{{ envs.not_listed ?? 'none' }}", {}) == "none"
    finally:
        variables.cache_clear()
