"""The CLI's calls to the server: a 401 to a call that carried no credential says how to give one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conveyor.cli.apiclient import ApiClient, ApiRefused


class _Refusing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"message": "authentication required: Basic (user and password), a Bearer token, or a session"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_401_without_a_credential_says_how_to_sign_in(refusing: str) -> None:
    with pytest.raises(ApiRefused) as refused:
        ApiClient(refusing, None).call("GET", "/api/v1/tokens")
    hint = f"(the CLI had no credential for {refusing}: `conveyor login`, or CONVEYOR_API_TOKEN)"
    assert str(refused.value).endswith(hint)


def test_a_401_to_a_credential_is_the_server_s_word(refusing: str) -> None:
    with pytest.raises(ApiRefused) as refused:
        ApiClient(refusing, "Bearer cvy_wrong").call("GET", "/api/v1/tokens")
    assert str(refused.value) == "401: authentication required: Basic (user and password), a Bearer token, or a session"
