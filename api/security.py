"""The server's HTTP hardening, as ASGI middleware around the app (outermost first):

- `SecurityHeaders`: on every answer a Content-Security-Policy that allows only the server's own scripts,
  styles and images (no inline script or style; the page's are files under `static/`), `frame-ancestors
  'none'` (and X-Frame-Options DENY), X-Content-Type-Options nosniff, Referrer-Policy no-referrer, and HSTS
  when the server speaks TLS;
- `BodyLimit`: a request body larger than `CONVEYOR_SERVER_MAX_REQUEST_BYTES` is answered 413, by its
  Content-Length before anything is read, or as soon as a chunked body passes the limit;
- CORS (Starlette's, only when `CONVEYOR_SERVER_CORS_ORIGINS` names origins: closed by default);
- `Csrf`: an unsafe request (POST, PUT, PATCH, DELETE) that carries the session cookie must also carry the
  `X-CSRF-Token` header equal to the CSRF cookie (double submit), or an `Origin` header of this server or
  of an allowed CORS origin; otherwise 403. A request authenticated by an `Authorization: Bearer|Basic`
  header is exempt: a browser never adds that header by itself.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from http.cookies import CookieError, SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The cookie a browser session rides on (set by authentication at login), the CSRF cookie it sets beside it
# (readable by the page's script, not HttpOnly) and the header the page copies it into.
SESSION_COOKIE = "conveyor_session"
CSRF_COOKIE = "conveyor_csrf"
CSRF_HEADER = "x-csrf-token"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def policy_with_style_nonce(nonce: str) -> str:
    """The policy for a page whose bundled code editor injects its own `<style>` element: that element may
    carry `nonce` (fresh for each answer); inline style attributes and every other inline style stay refused."""
    return CONTENT_SECURITY_POLICY.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")


HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


async def answer(send: Send, status: int, message: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """An error answer in the API's shape, sent by a middleware."""
    body = json.dumps({"message": message, "errors": []}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.app = app
        self.headers = (*HEADERS, HSTS) if tls else HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {bytes(k).lower() for k, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await answer(send, 413, self._message())
            return
        seen = 0
        started = refused = False

        async def counting() -> Message:
            # Past the limit: answer 413 at once, and tell the app the client has gone (what it answers is dropped).
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    if not started:
                        await answer(send, 413, self._message())
                    return {"type": "http.disconnect"}
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting, tracking)

    def _message(self) -> str:
        return f"the request body may be at most {self.limit} bytes"


class Csrf:
    def __init__(self, app: ASGIApp, *, trusted_origins: list[str]) -> None:
        self.app = app
        self.trusted = {o.rstrip("/") for o in trusted_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            problem = self.problem(scope)
            if problem is not None:
                await answer(send, 403, f"cross-site request refused: {problem}")
                return
        await self.app(scope, receive, send)

    def problem(self, scope: Scope) -> str | None:
        """Why the request must be refused, None when it may go on."""
        authorization = (header(scope, b"authorization") or "").split(" ", 1)[0].lower()
        if authorization in ("bearer", "basic"):
            return None
        cookies = cookies_of(scope)
        if SESSION_COOKIE not in cookies:
            return None
        token, expected = header(scope, CSRF_HEADER.encode()), cookies.get(CSRF_COOKIE)
        if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
            return None
        origin = header(scope, b"origin")
        if origin is not None and origin.rstrip("/") in self.trusted | {_own_origin(scope)}:
            return None
        if token:
            return f"the {CSRF_HEADER} header does not match the {CSRF_COOKIE} cookie"
        return f"a session request needs the {CSRF_HEADER} header or a same-origin Origin header"


def _own_origin(scope: Scope) -> str:
    host = header(scope, b"host") or ""
    return f"{scope.get('scheme', 'http')}://{host}"


def cookies_of(scope: Scope) -> dict[str, str]:
    raw = header(scope, b"cookie")
    if not raw:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def cors_options(origins: list[str]) -> dict[str, Any]:
    """Starlette `CORSMiddleware` arguments for the allowed origins."""
    return {
        "allow_origins": origins,
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
        "allow_headers": ["Authorization", "Content-Type", "Idempotency-Key", "X-CSRF-Token"],
        "allow_credentials": True,
        "max_age": 600,
    }
