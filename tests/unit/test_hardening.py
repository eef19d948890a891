"""The hardening that needs no server: derived ids, `--since`, the task environment allowlist and the user a
Commands task runs as, the page without inline scripts or styles, audit documents, the server's settings."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.api import pages
from conveyor.api.app import DOCS_PAGE
from conveyor.api.settings import ServerSettings
from conveyor.common.audit import AuditRecord, parse_since, result_of
from conveyor.common.ids import LENGTH, derived_id
from conveyor.common.settings import TASK_ENVIRONMENT, WorkerSettings
from conveyor.common.state import StateType
from conveyor.common.tasks.core import Commands
from conveyor.indexer import documents, templates
from conveyor.worker.runners import commands as commands_module
from conveyor.worker.runners.commands import CommandsRunner, task_environment
from conveyor.worker.testing import run_context

STATIC = Path(commands_module.__file__).parents[2] / "api" / "static"
COMMANDS = "io.kestra.plugin.scripts.shell.Commands"


def test_a_derived_id_is_a_function_of_its_parts() -> None:
    one = derived_id("execution", "ns", "flow", "key-1")
    assert one == derived_id("execution", "ns", "flow", "key-1")
    assert len(one) == LENGTH and re.fullmatch(r"[0-9A-Za-z]{22}", one)
    assert one != derived_id("execution", "ns", "flow", "key-2")
    assert derived_id("a", "bc") != derived_id("ab", "c")  # parts are separated


def test_since_is_a_date_time_or_a_duration_back() -> None:
    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    assert parse_since("P1D", now=now) == now - timedelta(days=1)
    assert parse_since("pt6h", now=now) == now - timedelta(hours=6)
    assert parse_since("P1DT30M", now=now) == now - timedelta(days=1, minutes=30)
    assert parse_since("P2W", now=now) == now - timedelta(weeks=2)
    assert parse_since("2026-01-09T08:00:00", now=now) == datetime(2026, 1, 9, 8, tzinfo=UTC)
    assert parse_since("2026-01-09T08:00:00+01:00") == datetime(2026, 1, 9, 7, tzinfo=UTC)
    assert parse_since(None) is None and parse_since(" ") is None
    for bad in ("P", "PT", "P1X", "yesterday", "P1DT"):
        with pytest.raises(ValueError, match="duration such as P1D"):
            parse_since(bad, now=now)


def test_results_of_statuses() -> None:
    assert [result_of(s) for s in (200, 201, 202, 401, 403, 404, 409, 503)] == [
        "SUCCESS",
        "SUCCESS",
        "SUCCESS",
        "DENIED",
        "DENIED",
        "FAILED",
        "FAILED",
        "FAILED",
    ]


def test_an_audit_record_becomes_a_document_of_the_audit_index() -> None:
    record = AuditRecord(
        timestamp=datetime(2026, 3, 4, 5, tzinfo=UTC),
        user="alice",
        action="start_execution",
        method="POST",
        path="/api/v1/executions/ns/f",
        namespace="ns",
        flow_id="f",
        execution_id="e1",
        client="10.0.0.1",
        status=200,
        result="SUCCESS",
    )
    action = documents.decode("p", templates.AUDIT, record.to_json(), topic="p.audit", partition=0, offset=7)
    assert action is not None
    assert (action.index, action.id, action.version) == ("p-audit-2026.03", record.id, None)
    assert action.source["flowId"] == "f" and action.source["user"] == "alice"
    mapped = templates.index_template("p", templates.AUDIT)["template"]["mappings"]["properties"]
    assert set(action.source) <= set(mapped)


# ---- the page: the Content-Security-Policy allows no inline script or style


@pytest.mark.parametrize("name", [*pages.PAGES, "docs"])
def test_the_pages_have_no_inline_script_or_style(name: str) -> None:
    html = DOCS_PAGE if name == "docs" else pages.render(name)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S | re.I)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"<style\b", html, flags=re.I)
    assert not re.search(r"\sstyle\s*=", html, flags=re.I)
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I)  # onclick=... handlers are inline scripts
    assert "javascript:" not in html


def test_the_scripts_set_no_style_attribute_nor_inline_handler() -> None:
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        assert not re.search(r"setAttribute\(\s*[\"'](style|on[a-z]+)[\"']", text), script.name
        assert "eval(" not in text and "new Function(" not in text, script.name


# ---- the server's settings


def test_tls_needs_a_certificate_and_its_key(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    with pytest.raises(ValueError, match="go together"):
        ServerSettings(tls_certificate=str(cert))
    with pytest.raises(ValueError, match="no file at"):
        ServerSettings(tls_certificate=str(cert), tls_key=str(tmp_path / "missing.pem"))
    settings = ServerSettings(tls_certificate=str(cert), tls_key=str(key), port=8443)
    assert settings.tls and settings.url == "https://127.0.0.1:8443"
    assert not ServerSettings().tls and ServerSettings().url.startswith("http://")


def test_cors_origins_are_none_by_default_and_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServerSettings().cors_origins == []
    monkeypatch.setenv("CONVEYOR_SERVER_CORS_ORIGINS", "https://a.example, https://b.example")
    assert ServerSettings().cors_origins == ["https://a.example", "https://b.example"]


# ---- the worker: what a task's process inherits, and as whom it runs


def test_the_task_environment_is_an_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WorkerSettings().task_environment == list(TASK_ENVIRONMENT)
    monkeypatch.setenv("CONVEYOR_WORKER_TASK_ENVIRONMENT", "PATH, LANG")
    assert WorkerSettings().task_environment == ["PATH", "LANG"]
    environ = {"PATH": "/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "s", "CONVEYOR_KAFKA_SASL_PASSWORD": "p"}
    assert task_environment(list(TASK_ENVIRONMENT), environ) == {"PATH": "/bin", "HOME": "/root"}


def _run(spec: dict[str, Any], settings: WorkerSettings) -> tuple[Any, list[str]]:
    ctx, logs = run_context(spec)
    outcome = CommandsRunner(settings).run(Commands.model_validate(spec), ctx)
    return outcome, [e.message for e in logs]


def test_the_worker_s_secrets_never_reach_a_task_nor_its_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_KAFKA_SASL_PASSWORD", "kafka-secret-1")
    monkeypatch.setenv("CONVEYOR_ELASTICSEARCH_API_KEY", "es-secret-2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-3")
    monkeypatch.setenv("LANG", "C.UTF-8")
    spec = {"id": "sh", "type": COMMANDS, "commands": ["env"], "env": {"GREETING": "hi"}}
    outcome, lines = _run(spec, WorkerSettings())
    assert outcome.state is StateType.SUCCESS
    names = {line.split("=", 1)[0] for line in lines}
    assert {"PATH", "LANG", "GREETING"} <= names
    assert names <= {*TASK_ENVIRONMENT, "GREETING", "PWD", "SHLVL", "_", "OLDPWD"}
    assert not any("secret" in line for line in lines)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs a worker running as root")
def test_commands_run_as_the_configured_user_when_the_worker_is_root() -> None:
    spec = {"id": "sh", "type": COMMANDS, "commands": ["id -un", "echo $HOME", "touch here && echo wrote"]}
    outcome, lines = _run(spec, WorkerSettings(run_as_user="nobody"))
    assert outcome.state is StateType.SUCCESS, (outcome.error, lines)
    assert lines[0] == "nobody" and lines[2] == "wrote"  # its own fresh working directory
    outcome, lines = _run({**spec, "commands": ["id -un"]}, WorkerSettings(run_as_user="65534"))
    assert lines == ["nobody"]


def test_a_worker_that_is_not_root_cannot_switch_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    spec = {"id": "sh", "type": COMMANDS, "commands": ["id -un"]}
    outcome, _ = _run(spec, WorkerSettings(run_as_user="nobody"))
    assert outcome.state is StateType.FAILED and "does not run as root" in (outcome.error or "")
    outcome, _ = _run(spec, WorkerSettings(run_as_user="no-such-user-here"))
    assert outcome.state is StateType.FAILED and "no user 'no-such-user-here'" in (outcome.error or "")
