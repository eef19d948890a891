"""`conveyor server`'s app served by uvicorn in a thread of the test process, on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from conveyor.api.app import create_app
from conveyor.api.server import uvicorn_config
from conveyor.api.settings import ServerSettings
from conveyor.common.servers.process import free_port
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings


@contextmanager
def serving(
    kafka: KafkaSettings,
    es: ElasticsearchSettings,
    timeout: float = 30.0,
    *,
    settings: ServerSettings | None = None,
    wrap: Callable[[FastAPI], ASGIApp] | None = None,
) -> Iterator[str]:
    """The server's base URL while it runs; it shuts down (its lifespan closes the backends) on exit.
    `settings`: the server's (its port is replaced by a free one); `wrap`: an ASGI layer around the app (a
    test's stand-in for authentication)."""
    port = free_port()
    settings = (settings or ServerSettings()).model_copy(update={"port": port, "host": "127.0.0.1"})
    app = create_app(kafka, es, settings)
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
