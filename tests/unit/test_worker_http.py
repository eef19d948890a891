"""The HTTP Request runner against a real HTTP server on loopback (started by the test): methods, bodies,
forms, headers, basic and bearer auth, failed codes and `allowFailed`, redirects, the body limit, timeouts,
kills, and credentials kept out of logs and outputs."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor.common import input_secrets
from conveyor.common.state import StateType
from conveyor.common.tasks.http import Request
from conveyor.worker.runners.base import RunOutcome, StopReason
from conveyor.worker.runners.http import RequestRunner, safe_uri
from conveyor.worker.testing import run_context
from tests.httpserver import LoopbackServer, loopback_server

REQUEST = "io.kestra.plugin.core.http.Request"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


def run(spec: dict[str, Any], context: dict[str, Any] | None = None) -> tuple[RunOutcome, list[str]]:
    full = {"id": "req", "type": REQUEST, **spec}
    ctx, logs = run_context(full, context)
    outcome = RequestRunner().run(Request.model_validate(full), ctx)
    return outcome, [e.message for e in logs]


def echoed(outcome: RunOutcome) -> dict[str, Any]:
    assert outcome.outputs is not None
    return dict(json.loads(outcome.outputs["body"]))


def test_a_get_returns_code_headers_and_body(server: LoopbackServer) -> None:
    outcome, logs = run(
        {"uri": server.url + "/echo?q={{ inputs.q }}", "headers": {"X-Who": "{{ inputs.q }}", "X-Count": 5}},
        {"inputs": {"q": "ada"}},
    )
    assert outcome.state is StateType.SUCCESS and logs == []
    assert outcome.outputs is not None
    assert outcome.outputs["code"] == 200 and outcome.outputs["uri"] == server.url + "/echo?q=ada"
    assert outcome.outputs["headers"]["x-multi"] == ["a", "b"]
    assert outcome.outputs["headers"]["content-type"] == ["application/json"]
    got = echoed(outcome)
    assert (got["method"], got["path"], got["headers"]["X-Who"]) == ("GET", "/echo?q=ada", "ada")
    assert got["headers"]["X-Count"] == "5"
    # The reference sets the content type even without a body.
    assert got["headers"]["Content-Type"] == "application/json"


def test_a_post_sends_the_rendered_body_with_its_content_type(server: LoopbackServer) -> None:
    spec = {
        "uri": server.url + "/echo",
        "method": "post",
        "contentType": "text/plain",
        "body": "{{ {'n': inputs.n} | json }}",
    }
    outcome, _ = run(spec, {"inputs": {"n": 3}})
    got = echoed(outcome)
    assert (got["method"], got["body"], got["headers"]["Content-Type"]) == ("POST", '{"n":3}', "text/plain")


def test_form_data_is_url_encoded_or_multipart(server: LoopbackServer) -> None:
    form = {"user": "{{ inputs.user }}", "n": 2}
    outcome, _ = run({"uri": server.url + "/echo", "method": "POST", "formData": form}, {"inputs": {"user": "J D"}})
    got = echoed(outcome)
    assert got["body"] == "user=J+D&n=2"
    assert got["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    spec = {"uri": server.url + "/echo", "method": "POST", "formData": form, "contentType": "multipart/form-data"}
    outcome, _ = run(spec, {"inputs": {"user": "J D"}})
    got = echoed(outcome)
    assert got["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert 'name="user"\r\n\r\nJ D\r\n' in got["body"] and 'name="n"\r\n\r\n2\r\n' in got["body"]


def test_basic_auth_new_and_deprecated_and_bearer(server: LoopbackServer) -> None:
    expected = "Basic " + base64.b64encode(b"ada:pw").decode()
    for options in (
        {"auth": {"type": "BASIC", "username": "ada", "password": "{{ inputs.pw }}"}},
        {"basicAuthUser": "ada", "basicAuthPassword": "{{ inputs.pw }}"},
    ):
        outcome, _ = run({"uri": server.url + "/echo", "options": options}, {"inputs": {"pw": "pw"}})
        assert echoed(outcome)["headers"]["Authorization"] == expected
    outcome, _ = run({"uri": server.url + "/echo", "options": {"auth": {"type": "BEARER", "token": "t0k"}}})
    assert echoed(outcome)["headers"]["Authorization"] == "Bearer t0k"


def test_a_failed_code_fails_the_task_unless_allowed(server: LoopbackServer) -> None:
    outcome, _ = run({"uri": server.url + "/status/404"})
    assert outcome.state is StateType.FAILED
    assert outcome.error == "Failed http request with response code '404'"
    for spec in ({"allowFailed": True}, {"options": {"allowFailed": True}}):
        outcome, _ = run({"uri": server.url + "/status/503", **spec})
        assert outcome.state is StateType.SUCCESS and outcome.outputs is not None
        assert (outcome.outputs["code"], outcome.outputs["body"]) == (503, "status body")


def test_redirects_are_followed_unless_turned_off(server: LoopbackServer) -> None:
    outcome, _ = run({"uri": server.url + "/redirect"})
    assert echoed(outcome)["path"] == "/echo"
    outcome, _ = run({"uri": server.url + "/redirect", "options": {"followRedirects": False}})
    assert outcome.outputs is not None and outcome.outputs["code"] == 302 and outcome.outputs["body"] is None


def test_a_body_over_max_content_length_fails(server: LoopbackServer) -> None:
    outcome, _ = run({"uri": server.url + "/big/100", "options": {"maxContentLength": 100}})
    assert outcome.state is StateType.SUCCESS
    outcome, _ = run({"uri": server.url + "/big/101", "options": {"maxContentLength": 100}})
    assert outcome.state is StateType.FAILED and outcome.error is not None
    assert "larger than options.maxContentLength (100 bytes)" in outcome.error


def test_a_read_timeout_fails_the_task(server: LoopbackServer) -> None:
    outcome, _ = run({"uri": server.url + "/hang", "options": {"timeout": {"readIdleTimeout": "PT0.2S"}}})
    assert outcome.state is StateType.FAILED and outcome.error is not None
    assert outcome.error.startswith(f"HTTP request to {server.url}/hang failed: timed out (ReadTimeout)")


def test_a_connection_refused_fails_with_a_clear_error() -> None:
    with loopback_server() as gone:
        url = gone.url
    outcome, _ = run({"uri": url + "/x"})
    assert outcome.state is StateType.FAILED and outcome.error is not None
    assert outcome.error.startswith(f"HTTP request to {url}/x failed: ConnectError")


def test_a_kill_ends_a_hanging_request(server: LoopbackServer) -> None:
    spec = {"id": "req", "type": REQUEST, "uri": server.url + "/hang"}
    ctx, _ = run_context(spec)
    killer = threading.Thread(target=lambda: server.hanging.wait(30) and ctx.stop(StopReason.KILLED))
    killer.start()
    outcome = RequestRunner().run(Request.model_validate(spec), ctx)
    killer.join()
    assert outcome.state is StateType.FAILED and outcome.error == "the request was stopped"
    assert not server.release.is_set()  # the server still holds the request: the runner did not wait for it


def test_logged_headers_mask_credentials_and_secrets(server: LoopbackServer) -> None:
    sealed = input_secrets.seal("hunter2")
    spec = {
        "uri": server.url + "/echo",
        "method": "POST",
        "body": "pw={{ inputs.pw }}",
        "headers": {"X-Key": "{{ inputs.pw }}"},
        "options": {
            "auth": {"type": "BASIC", "username": "ada", "password": "{{ inputs.pw }}"},
            "logs": ["REQUEST_HEADERS", "REQUEST_BODY", "RESPONSE_HEADERS"],
        },
    }
    outcome, logs = run(spec, {"inputs": {"pw": sealed}})
    assert outcome.state is StateType.SUCCESS
    text = "\n".join(logs)
    assert "hunter2" not in text and base64.b64encode(b"ada:hunter2").decode() not in text
    assert "request header authorization: ********" in logs
    assert "request header x-key: ********" in logs and "request body: pw=********" in logs
    assert any(line.startswith("response header content-type: application/json") for line in logs)


def test_the_uri_output_and_errors_drop_a_user_info_password(server: LoopbackServer) -> None:
    uri = server.url.replace("http://", "http://ada:pw@") + "/echo"
    outcome, _ = run({"uri": uri})
    assert (
        outcome.outputs is not None and outcome.outputs["uri"] == server.url.replace("http://", "http://ada@") + "/echo"
    )
    assert echoed(outcome)["headers"]["Authorization"] == "Basic " + base64.b64encode(b"ada:pw").decode()
    assert safe_uri("http://h/x") == "http://h/x"


def test_a_header_value_with_a_line_break_is_refused_not_sent(server: LoopbackServer) -> None:
    spec = {"uri": server.url + "/echo", "headers": {"X-Who": "{{ inputs.v }}"}}
    outcome, _ = run(spec, {"inputs": {"v": "a\r\nX-Injected: 1"}})
    assert outcome.state is StateType.FAILED
    assert all("X-Injected" not in r.headers for r in server.requests)


def test_an_unsupported_scheme_fails_with_a_clear_error() -> None:
    outcome, _ = run({"uri": "ftp://127.0.0.1/x"})
    assert outcome.state is StateType.FAILED and outcome.error is not None
    assert "UnsupportedProtocol" in outcome.error
