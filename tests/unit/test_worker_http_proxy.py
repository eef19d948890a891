"""The HTTP tasks' `options.proxy` and `options.ssl` against real servers on loopback (started by the test): a
forwarding HTTP proxy (absolute-form requests, CONNECT tunnels, Basic proxy authentication) and an HTTPS
server with a self-signed certificate."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.common.state import StateType
from conveyor.common.tasks.http import Request
from conveyor.worker.runners.http_client import ProxyError
from tests.httpserver import LoopbackServer, Proxy, forwarding_proxy, loopback_server
from tests.unit.test_worker_http import echoed, run

CREDENTIALS = ("ada", "proxy-pw-123")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


@pytest.fixture
def https(tmp_path: Path) -> Iterator[LoopbackServer]:
    with loopback_server(tls=tmp_path) as running:
        yield running


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with forwarding_proxy() as running:
        yield running


@pytest.fixture
def guarded() -> Iterator[Proxy]:
    with forwarding_proxy(CREDENTIALS) as running:
        yield running


def through(proxy: Proxy, **more: Any) -> dict[str, Any]:
    return {"type": "HTTP", "address": "127.0.0.1", "port": proxy.port, **more}


def test_a_request_goes_through_the_http_proxy(server: LoopbackServer, proxy: Proxy) -> None:
    outcome, _ = run({"uri": server.url + "/echo?q=1", "options": {"proxy": through(proxy)}})
    assert outcome.state is StateType.SUCCESS, outcome.error
    assert proxy.seen == [("GET", server.url + "/echo?q=1")]
    assert outcome.outputs is not None and outcome.outputs["headers"]["via"] == ["1.1 test-proxy"]
    assert echoed(outcome)["path"] == "/echo?q=1"


def test_direct_and_no_proxy_go_straight_to_the_server(server: LoopbackServer, proxy: Proxy) -> None:
    for options in ({"proxy": through(proxy, type="DIRECT")}, {}):
        outcome, _ = run({"uri": server.url + "/echo", "options": options})
        assert outcome.state is StateType.SUCCESS and outcome.outputs is not None
        assert "via" not in outcome.outputs["headers"]
    assert proxy.seen == []


def test_proxy_credentials_from_a_secret_authenticate_and_are_never_logged(
    server: LoopbackServer, guarded: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_PROXY_PASSWORD", base64.b64encode(CREDENTIALS[1].encode()).decode())
    spec = {
        "uri": server.url + "/echo",
        "options": {
            "proxy": through(guarded, username="{{ 'ada' }}", password="{{ secret('PROXY_PASSWORD') }}"),
            "logs": ["REQUEST_HEADERS", "RESPONSE_HEADERS"],
        },
    }
    outcome, logs = run(spec)
    assert outcome.state is StateType.SUCCESS, outcome.error
    assert guarded.auths == ["Basic " + base64.b64encode(b"ada:proxy-pw-123").decode()]
    assert logs and not any(CREDENTIALS[1] in line or str(guarded.auths[0]) in line for line in logs)
    assert "Proxy-Authorization" not in echoed(outcome)["headers"]  # the proxy keeps it


def test_a_proxy_refusing_the_credentials_fails_the_task_with_407(server: LoopbackServer, guarded: Proxy) -> None:
    outcome, _ = run({"uri": server.url + "/echo", "options": {"proxy": through(guarded)}})
    assert outcome.state is StateType.FAILED and outcome.error == "Failed http request with response code '407'"
    wrong = through(guarded, username="ada", password="nope")
    outcome, _ = run({"uri": server.url + "/echo", "options": {"proxy": wrong}})
    assert outcome.state is StateType.FAILED and outcome.outputs is not None and outcome.outputs["code"] == 407


def test_the_deprecated_proxy_spellings_still_work(server: LoopbackServer, guarded: Proxy) -> None:
    options = {
        "proxyType": "HTTP",
        "proxyAddress": "127.0.0.1",
        "proxyPort": guarded.port,
        "proxyUsername": "ada",
        "proxyPassword": CREDENTIALS[1],
    }
    outcome, _ = run({"uri": server.url + "/echo", "options": options})
    assert outcome.state is StateType.SUCCESS, outcome.error
    assert guarded.seen == [("GET", server.url + "/echo")]


def test_a_self_signed_certificate_is_refused_unless_all_are_trusted(https: LoopbackServer) -> None:
    outcome, _ = run({"uri": https.url + "/echo"})
    assert outcome.state is StateType.FAILED and outcome.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.error and https.requests == []
    for spec in (
        {"options": {"ssl": {"insecureTrustAllCertificates": True}}},
        {"sslOptions": {"insecureTrustAllCertificates": True}},  # the deprecated spelling
    ):
        outcome, _ = run({"uri": https.url + "/echo", **spec})
        assert outcome.state is StateType.SUCCESS, outcome.error
    assert len(https.requests) == 2
    outcome, _ = run({"uri": https.url + "/echo", "options": {"ssl": {"insecureTrustAllCertificates": False}}})
    assert outcome.state is StateType.FAILED


def test_https_goes_through_the_proxy_in_a_connect_tunnel(https: LoopbackServer, guarded: Proxy) -> None:
    options = {
        "proxy": through(guarded, username="ada", password=CREDENTIALS[1]),
        "ssl": {"insecureTrustAllCertificates": True},
    }
    outcome, _ = run({"uri": https.url + "/echo", "options": options})
    assert outcome.state is StateType.SUCCESS, outcome.error
    assert guarded.seen == [("CONNECT", https.url.removeprefix("https://"))]
    assert echoed(outcome)["path"] == "/echo"


def test_a_proxy_without_address_or_with_a_bad_port_fails_naming_the_property(server: LoopbackServer) -> None:
    # A ConveyorError: the worker's attempt fails the task run with its message.
    with pytest.raises(ProxyError, match=r"^options\.proxy\.address: required with type HTTP$"):
        run({"uri": server.url, "options": {"proxy": {"type": "HTTP", "port": 3128}}})
    with pytest.raises(ProxyError, match=r"^options\.proxy\.port: 0 is not a port \(1 to 65535\)$"):
        run({"uri": server.url, "options": {"proxy": {"type": "HTTP", "address": "h", "port": "{{ 0 }}"}}})
    with pytest.raises(ProxyError, match="SOCKS proxies are not supported"):
        run({"uri": server.url, "options": {"proxy": {"type": "SOCKS", "address": "h", "port": 1080}}})


def test_the_loader_refuses_an_unknown_proxy_type_or_property() -> None:
    with pytest.raises(ValueError, match="type"):
        Request.model_validate({"id": "r", "type": "x", "uri": "u", "options": {"proxy": {"type": "FTP"}}})
    with pytest.raises(ValueError, match="host"):
        Request.model_validate({"id": "r", "type": "x", "uri": "u", "options": {"proxy": {"host": "h"}}})
