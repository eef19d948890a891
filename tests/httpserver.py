"""A small HTTP server on loopback for the HTTP tasks' tests: it records each request and answers by path.
`/status/N` answers N; `/attachment` a CSV file named by its Content-Disposition; `/redirect` sends to
`/echo`; `/big/N` answers N bytes; `/hang` holds the request until the test ends (or `release` is set); any
other path (`/echo`) returns the request as JSON, with `"status": "UP"` as the API's health answer has it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


# Fixed answers by path: code, body, content type, more headers.
FIXED: dict[str, tuple[int, bytes, str, dict[str, list[str]]]] = {
    "/redirect": (302, b"", "text/plain", {"Location": ["/echo"]}),
    "/attachment": (200, b"a,b\n1,2\n", "text/csv", {"Content-Disposition": ['attachment; filename="../report.csv"']}),
}


def _handler(state: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            state.requests.append(recorded)
            if self.path.startswith("/status/"):
                self._answer(int(self.path.rsplit("/", 1)[1]), b"status body", "text/plain")
            elif self.path in FIXED:
                self._answer(*FIXED[self.path])
            elif self.path.startswith("/big/"):
                self._answer(200, b"x" * int(self.path.rsplit("/", 1)[1]), "text/plain")
            elif self.path == "/hang":
                state.hanging.set()
                state.release.wait(60)
                self._answer(200, b"late", "text/plain")
            else:
                # `status` as the API's health answer has it (the HTTP Request example reads it)
                echo = {"status": "UP", "method": recorded.method, "path": recorded.path, "headers": recorded.headers}
                echo["body"] = recorded.body.decode("utf-8", errors="replace")
                self._answer(200, json.dumps(echo).encode(), "application/json", {"X-Multi": ["a", "b"]})

        def _answer(self, code: int, body: bytes, ctype: str, extra: dict[str, list[str]] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, values in (extra or {}).items():
                for value in values:
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler


@contextmanager
def loopback_server() -> Iterator[LoopbackServer]:
    state = LoopbackServer(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
