"""The HTTP Download runner against a real HTTP server on loopback: the body streamed into the internal
storage under the task run's URIs, its name, `length`, the size limit, empty responses and failed codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.common.state import StateType
from conveyor.common.storage import ExecutionScope, default_storage
from conveyor.common.tasks.http import Download
from conveyor.worker.runners.base import RunOutcome
from conveyor.worker.runners.download import DownloadRunner, file_name
from conveyor.worker.testing import run_context
from tests.httpserver import LoopbackServer, loopback_server

DOWNLOAD = "io.kestra.plugin.core.http.Download"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


@pytest.fixture(autouse=True)
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(tmp_path / "storage"))
    default_storage.cache_clear()
    yield
    default_storage.cache_clear()


def run(spec: dict[str, Any]) -> tuple[RunOutcome, list[str], Any]:
    full = {"id": "get", "type": DOWNLOAD, **spec}
    ctx, logs = run_context(full)
    outcome = DownloadRunner().run(Download.model_validate(full), ctx)
    return outcome, [e.message for e in logs], ctx


def test_the_body_is_stored_under_the_task_run_and_named_by_content_disposition(server: LoopbackServer) -> None:
    outcome, _, ctx = run({"uri": server.url + "/attachment"})
    assert outcome.state is StateType.SUCCESS and outcome.outputs is not None
    run_ = ctx.job.task_run
    scope = ExecutionScope(run_.namespace, run_.flow_id, run_.execution_id)
    assert outcome.outputs["uri"] == scope.task_file(run_.task_id, run_.id, "report.csv")  # no `../`
    assert outcome.outputs["code"] == 200 and outcome.outputs["length"] == 8
    assert outcome.outputs["headers"]["content-type"] == ["text/csv"]
    with default_storage().open(outcome.outputs["uri"]) as stored:
        assert stored.read() == b"a,b\n1,2\n"
    assert [m.name for m in ctx.metrics] == ["response.length"] and ctx.metrics[0].value == 8


def test_a_large_body_is_streamed_and_named_after_the_uri(server: LoopbackServer) -> None:
    outcome, _, _ = run({"uri": server.url + "/big/300000"})
    assert outcome.state is StateType.SUCCESS and outcome.outputs is not None
    assert outcome.outputs["uri"].endswith("/300000") and outcome.outputs["length"] == 300_000
    assert default_storage().size(outcome.outputs["uri"]) == 300_000


def test_a_body_over_the_limit_fails_the_task(server: LoopbackServer) -> None:
    outcome, _, _ = run({"uri": server.url + "/big/5000", "options": {"maxContentLength": 4096}})
    assert outcome.state is StateType.FAILED and "larger than options.maxContentLength (4096 bytes)" in (
        outcome.error or ""
    )


@pytest.mark.parametrize(
    ("fail", "state"), [(None, StateType.FAILED), (True, StateType.FAILED), (False, StateType.SUCCESS)]
)
def test_an_empty_body_fails_unless_fail_on_empty_response_is_false(
    server: LoopbackServer, fail: bool | None, state: StateType
) -> None:
    spec: dict[str, Any] = {"uri": server.url + "/big/0"}
    if fail is not None:
        spec["failOnEmptyResponse"] = fail
    outcome, logs, _ = run(spec)
    assert outcome.state is state
    if state is StateType.FAILED:
        assert "No response from server" in (outcome.error or "")
    else:
        assert outcome.outputs is not None and outcome.outputs["length"] == 0
        assert logs == [f"File '{server.url}/big/0' is empty"]


def test_a_failed_code_fails_unless_allowed(server: LoopbackServer) -> None:
    outcome, _, _ = run({"uri": server.url + "/status/404"})
    assert outcome.state is StateType.FAILED and outcome.error == "Failed http request with response code '404'"
    assert outcome.outputs is not None and outcome.outputs["code"] == 404 and "uri" not in outcome.outputs
    allowed, _, _ = run({"uri": server.url + "/status/404", "options": {"allowFailed": True}})
    assert allowed.state is StateType.SUCCESS and allowed.outputs is not None and allowed.outputs["code"] == 404


def test_a_connection_error_names_the_uri_without_its_password() -> None:
    outcome, _, _ = run({"uri": "http://user:secret@127.0.0.1:9/x"})
    assert outcome.state is StateType.FAILED
    assert "http://user@127.0.0.1:9/x" in (outcome.error or "") and "secret" not in (outcome.error or "")


@pytest.mark.parametrize(
    ("uri", "headers", "name"),
    [
        ("http://h/a/b.txt?x=1", {}, "b.txt"),
        ("http://h/", {}, "download"),
        ("http://h/x", {"content-disposition": ["attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"]}, "résumé.pdf"),
        ("http://h/x", {"content-disposition": ['inline; filename="..\\\\evil.sh"']}, "evil.sh"),
        ("http://h/..", {}, "download"),
    ],
)
def test_the_file_name_is_one_safe_segment(uri: str, headers: dict[str, list[str]], name: str) -> None:
    assert file_name(uri, headers) == name
