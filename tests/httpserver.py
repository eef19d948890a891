"""A small HTTP server on loopback for the HTTP tasks' tests: it records each request and answers by path.
`/status/N` answers N; `/attachment` a CSV file named by its Content-Disposition; `/redirect` sends to
`/echo`; `/big/N` answers N bytes; `/hang` holds the request until the test ends (or `release` is set); any
other path (`/echo`) returns the request as JSON, with `"status": "UP"` as the API's health answer has it.
Over HTTPS with a self-signed certificate when asked; `forwarding_proxy` is an HTTP proxy (absolute-form
requests and CONNECT tunnels, Basic proxy authentication) in front of it."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


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
def loopback_server(tls: Path | None = None) -> Iterator[LoopbackServer]:
    """The server, over HTTPS when `tls` is a folder to write a self-signed certificate into."""
    state = LoopbackServer(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self_signed(tls))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        state.url = state.url.replace("http://", "https://")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, written into `folder` (no CA trusts it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "server.crt", folder / "server.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, private


@dataclass
class Proxy:
    """A forwarding HTTP proxy on loopback: what it was asked (`seen`: method and target), and the
    `Proxy-Authorization` it was given (`auths`)."""

    port: int = 0
    seen: list[tuple[str, str]] = field(default_factory=list)
    auths: list[str | None] = field(default_factory=list)


def _tunnel(client: socket.socket, upstream: socket.socket) -> None:
    """Relay bytes both ways until one side closes (or 10 s of silence)."""
    sockets = [client, upstream]
    while True:
        readable, _, _ = select.select(sockets, [], [], 10)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (upstream if sock is client else client).sendall(data)


def _proxy_handler(state: Proxy, credentials: tuple[str, str] | None) -> type[BaseHTTPRequestHandler]:
    expected = None if credentials is None else "Basic " + base64.b64encode(":".join(credentials).encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _allowed(self) -> bool:
            given = self.headers.get("Proxy-Authorization")
            state.seen.append((self.command, self.path))
            state.auths.append(given)
            if expected is not None and given != expected:
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False
            return True

        def do_CONNECT(self) -> None:
            if not self._allowed():
                return
            host, port = self.path.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as upstream:
                self.send_response(200, "Connection established")
                self.end_headers()
                _tunnel(self.connection, upstream)

        def _forward(self) -> None:
            if not self._allowed():
                return
            target = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "connection")}
            upstream = HTTPConnection(target.hostname or "", target.port or 80, timeout=10)
            upstream.request(self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers)
            answer = upstream.getresponse()
            content = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.send_header("Via", "1.1 test-proxy")
            self.end_headers()
            self.wfile.write(content)
            upstream.close()

        do_GET = do_POST = do_PUT = do_DELETE = _forward

    return Handler


@contextmanager
def forwarding_proxy(credentials: tuple[str, str] | None = None) -> Iterator[Proxy]:
    state = Proxy()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(state, credentials))
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
