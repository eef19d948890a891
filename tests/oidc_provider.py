"""The OIDC provider the tests log in through, chosen in one place (like `tests/servers.py` for Kafka/ES):

1. an existing one: `CONVEYOR_TEST_OIDC_ISSUER` (a Keycloak realm with `common/servers/keycloak-realm.json`
   imported; `CONVEYOR_TEST_OIDC_CLIENT_SECRET` if its client's secret differs from the file's);
2. else Keycloak from Maven Central, started on a free loopback port by `conveyor.common.servers.keycloak`,
   once per test session. Without Java 21+ or Maven the tests that need it are skipped, saying so.

Also `serving(app)`: an ASGI app on a free loopback port (uvicorn in a thread), for a provider to redirect to.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp

from conveyor.common.servers.errors import ServerError
from conveyor.common.servers.java import java_home_at_least
from conveyor.common.servers.keycloak import JAVA_MAJOR, realm_definition, start_keycloak
from conveyor.common.servers.maven import KEYCLOAK_VERSION, cache_dir
from conveyor.common.servers.process import free_port


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    passwords: dict[str, str]  # username -> password, from the realm file
    users: dict[str, dict[str, Any]]  # username -> the realm file's user


@contextmanager
def oidc_provider() -> Iterator[Provider]:
    """The provider, for a session fixture (`with oidc_provider() as provider: yield provider`)."""
    realm = realm_definition()
    (client,) = [c for c in realm["clients"] if c["clientId"] == "conveyor"]
    users = {user["username"]: user for user in realm["users"]}
    passwords = {name: user["credentials"][0]["value"] for name, user in users.items()}
    secret = os.environ.get("CONVEYOR_TEST_OIDC_CLIENT_SECRET") or client["secret"]
    if issuer := os.environ.get("CONVEYOR_TEST_OIDC_ISSUER"):
        yield Provider(issuer, client["clientId"], secret, passwords, users)
        return
    _skip_without_java_and_maven()
    with start_keycloak() as keycloak:
        yield Provider(keycloak.issuer, client["clientId"], secret, passwords, users)


def _skip_without_java_and_maven() -> None:
    try:
        java_home_at_least(JAVA_MAJOR)
    except ServerError as error:
        pytest.skip(f"no OIDC provider: Keycloak needs Java {JAVA_MAJOR}+ ({error}); or set CONVEYOR_TEST_OIDC_ISSUER")
    fetched = (cache_dir() / f"keycloak-{KEYCLOAK_VERSION}" / ".complete").exists()
    if shutil.which("mvn") is None and not fetched:
        pytest.skip("no OIDC provider: fetching Keycloak needs `mvn` on PATH; or set CONVEYOR_TEST_OIDC_ISSUER")


@contextmanager
def serving(app: ASGIApp, timeout: float = 30.0) -> Iterator[str]:
    """`http://127.0.0.1:PORT` while `app` is served there."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
