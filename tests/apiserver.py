"""`conveyor server`'s app served by uvicorn in a thread of the test process, on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from conveyor.api.app import create_app
from conveyor.api.settings import ServerSettings
from conveyor.common.servers.process import free_port
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings


@contextmanager
def serving(kafka: KafkaSettings, es: ElasticsearchSettings, timeout: float = 30.0) -> Iterator[str]:
    """The server's base URL while it runs; it shuts down (its lifespan closes the backends) on exit."""
    port = free_port()
    app = create_app(kafka, es, ServerSettings(port=port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
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
