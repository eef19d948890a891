"""`conveyor server`'s app served by uvicorn in a thread of the test process, on a free port, with
authentication on: by default one user, `admin` (the admin role on every namespace), whose credentials are
`ADMIN_AUTH` (for httpx's `auth=`) or `ADMIN_HEADERS`."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from conveyor.api.app import create_app
from conveyor.api.passwords import hash_password
from conveyor.api.server import uvicorn_config
from conveyor.api.settings import AuthSettings, ServerSettings, UserEntry
from conveyor.common.auth import Binding, Role
from conveyor.common.servers.process import free_port
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

PASSWORD = "test-password-not-secret"
ADMIN_AUTH = ("admin", PASSWORD)
ADMIN_HEADERS = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}
# One argon2 hash for every test user: hashing is slow on purpose.
PASSWORD_HASH = hash_password(PASSWORD)


def user(*bindings: str, groups: tuple[str, ...] = ()) -> UserEntry:
    """A test user with `PASSWORD`, holding `role@namespace` bindings."""
    parsed = []
    for text in bindings:
        role, _, namespace = text.partition("@")
        parsed.append(Binding(role=Role(role), namespace=namespace))
    return UserEntry.model_validate({"passwordHash": PASSWORD_HASH, "bindings": parsed, "groups": list(groups)})


def basic(name: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def auth_with(users: Mapping[str, UserEntry] | None = None, *, max_failures: int = 1000) -> AuthSettings:
    """Authentication with `admin` and these users (and nothing from the environment). Every test client
    comes from 127.0.0.1: failed sign-ins are limited only far away, but where a test sets `max_failures`."""
    return AuthSettings.model_validate(
        {"users": {"admin": user("admin@"), **(users or {})}, "max_failures": max_failures}
    )


@contextmanager
def serving(
    kafka: KafkaSettings,
    es: ElasticsearchSettings,
    timeout: float = 30.0,
    *,
    settings: ServerSettings | None = None,
    auth: AuthSettings | None = None,
    wrap: Callable[[FastAPI], ASGIApp] | None = None,
) -> Iterator[str]:
    """The server's base URL while it runs; it shuts down (its lifespan closes the backends) on exit.
    `settings`: the server's (its port is replaced by a free one); `wrap`: an ASGI layer around the app (a
    test's own layer); `auth`: the users (default `auth_with()`: just `admin`)."""
    port = free_port()
    settings = (settings or ServerSettings()).model_copy(update={"port": port, "host": "127.0.0.1"})
    app = create_app(kafka, es, settings, auth or auth_with())
    served: ASGIApp = wrap(app) if wrap else app
    server = uvicorn.Server(uvicorn_config(served, settings, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield settings.url
    finally:
        server.should_exit = True
        thread.join(timeout)
