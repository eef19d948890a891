"""What the browser tests (`tests/e2e/test_web*.py`) share: `conveyor server` as a process of the e2e stack
(the `server` fixture), Debian's Chromium driven by Playwright (the `browser` fixture), a page signed in, flows
deployed through the API, and a poll of a condition in the page.

The fixtures are imported by the test modules that use them (module-scoped: one server and one browser per
module). Screenshots land in `OUTPUT` (gitignored).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.api.settings import UserEntry
from conveyor.common.servers.process import free_port
from tests.apiserver import ADMIN_AUTH, PASSWORD_HASH, auth_with
from tests.cli import ROOT
from tests.e2e.conftest import Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = ROOT / "test-output"
VIEWPORT = {"width": 1280, "height": 800}


def start_server(e2e_stack: Stack, users: Mapping[str, UserEntry] | None = None) -> httpx.Client:
    """`conveyor server` as a process of the stack, with `admin` and these users (all with `PASSWORD`);
    a client signed in as `admin`, once the server answers."""
    port = free_port()
    entries = auth_with(users).model_dump(mode="json", by_alias=True, include={"users"})["users"]
    for entry in entries.values():
        entry["passwordHash"] = PASSWORD_HASH  # the dump masks the secret
    env = {
        "CONVEYOR_SERVER_PORT": str(port),
        "CONVEYOR_SERVER_REFRESH_SECONDS": "0",
        "CONVEYOR_AUTH_USERS": json.dumps(entries),
    }
    e2e_stack.start("server", "server", env)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, auth=ADMIN_AUTH)

    def healthy() -> bool:
        try:
            return client.get("/api/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    assert e2e_stack.poll(healthy, timeout=180), f"the server did not answer\n{e2e_stack.tail()}"
    return client


@pytest.fixture(scope="module")
def server(e2e_stack: Stack) -> Iterator[httpx.Client]:
    client = start_server(e2e_stack)
    yield client
    client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: ./dev test installs Debian's chromium when run as root")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; ./dev test does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def base_url(server: httpx.Client) -> str:
    return str(server.base_url).rstrip("/")


def deploy(server: httpx.Client, *sources: str, statuses: tuple[int, ...] = (200, 201)) -> None:
    """Deploy each flow's YAML through the API: each answered with one of `statuses`."""
    for source in sources:
        deployed = server.post("/api/v1/flows", content=source, headers={"content-type": "application/x-yaml"})
        assert deployed.status_code in statuses, deployed.text


def sign_in(page: Any, base: str, path: str, who: tuple[str, str] = ADMIN_AUTH) -> None:
    """Open `path` not signed in: the sign-in form, then back to the page asked for."""
    page.goto(base + path)
    page.wait_for_url("**/login?next=**")
    page.fill("#user", who[0])
    page.fill("#password", who[1])
    page.click("#login button[type=submit]")
    page.wait_for_url("**" + path)


def open_page(browser: Any, base: str, path: str, viewport: Mapping[str, int] = VIEWPORT) -> tuple[Any, list[str]]:
    """A new page signed in as `admin` on `path`, and the errors it throws (collected from the start)."""
    page = browser.new_page(viewport=dict(viewport))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, path)
    return page, errors


def until(page: Any, condition: str, timeout: float = 30.0) -> None:
    """Poll `condition` in the page from the test (Playwright's wait_for_function evaluates a string in the
    page, which the server's Content-Security-Policy forbids: no `unsafe-eval`)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => {condition}"):
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        page.wait_for_timeout(100)
