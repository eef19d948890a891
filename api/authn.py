"""Authentication: every request's credentials become an `Identity` on `request.state.identity` (or none).

- `Authorization: Basic` - a user of `CONVEYOR_AUTH_USERS` (or its file) and its password (argon2);
- `Authorization: Bearer` - an API token (`api/tokenstore.py`);
- the `conveyor_session` cookie of the page (`api/sessions.py`);
- nothing: the anonymous identity when `CONVEYOR_AUTH_ANONYMOUS_ROLE` is set, else no identity (the routes
  then answer 401, the page redirects to the sign-in form).

Wrong credentials are answered 401 at once; failed sign-ins are counted per user and per client address,
and past `CONVEYOR_AUTH_MAX_FAILURES` within the window the next attempt is answered 429 with Retry-After.
A failure is logged with the user and the address, never the password or the token.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from conveyor.api.backends import Backends
from conveyor.api.passwords import Verifier
from conveyor.api.ratelimit import FailureLimiter
from conveyor.api.security import SESSION_COOKIE, answer, cookies_of, header
from conveyor.api.sessions import Sessions
from conveyor.common.auth import Binding, Identity, merged
from conveyor.common.kafka.errors import KafkaError

log = logging.getLogger(__name__)

_Check = Callable[[], Identity | None]
# What anyone may call: credentials there are not checked at all (signing in checks its own).
OPEN_PATHS = frozenset({"/api/v1/health", "/api/v1/auth/login", "/api/v1/auth/logout", "/login", "/health"})
# The OIDC sign-in and its callback (`api/oidc.py`).
# The OIDC login, and webhooks: whoever calls one proves nothing but its key (a wrong key answers 404).
OPEN_PREFIXES = ("/api/v1/auth/oidc/", "/api/v1/executions/webhook/")


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


@dataclass
class Refused(Exception):
    status: int
    message: str
    headers: tuple[tuple[bytes, bytes], ...] = ()
    # Who the refused credentials claimed to be (a user name, `token:<id>`), for the audit trail; never a secret.
    claimed: str | None = None


class Authenticator:
    def __init__(self, backends: Backends) -> None:
        self.backends = backends
        self.settings = backends.auth
        self.sessions = Sessions(self.settings, secure=backends.server.tls)
        self.verifier = Verifier()
        self.limiter = FailureLimiter(self.settings.max_failures, self.settings.failure_window_seconds)

    def identify(self, scope: Scope) -> Identity | None:
        """The caller's identity; raises `Refused` for wrong credentials or too many failures."""
        authorization = header(scope, b"authorization")
        if authorization:
            scheme, _, credentials = authorization.strip().partition(" ")
            return self.credentials(scheme.lower(), credentials.strip(), client_of(scope))
        session = cookies_of(scope).get(SESSION_COOKIE)
        found = self.sessions.identity(session) if session else None
        if found is not None:
            return self.current(found)
        role = self.settings.anonymous_role
        return Identity(name="anonymous", kind="anonymous", bindings=(Binding(role=role),)) if role else None

    def current(self, found: Identity) -> Identity | None:
        """A session's identity as the configuration has it now: a user's roles as they are (none for a user
        that is gone); an OIDC user's from its groups' current mapping."""
        if found.kind == "user":
            entry = self.settings.users.get(found.name)
            return self.user_identity(found.name, entry.bindings, entry.groups, kind="user") if entry else None
        if found.kind == "oidc":
            return self.user_identity(found.name, (), found.groups, kind="oidc")
        return found

    def credentials(self, scheme: str, credentials: str, client: str) -> Identity:
        if scheme == "basic":
            user, password = _basic(credentials)
            return self.guarded(user, client, "password", lambda: self.password(user, password))
        if scheme == "bearer":
            return self.guarded(_token_user(credentials), client, "token", lambda: self.token(credentials))
        raise Refused(401, f"unknown authorization scheme {scheme!r}: use Basic or Bearer", _CHALLENGE)

    def guarded(self, user: str, client: str, what: str, check: _Check) -> Identity:
        keys = (f"user:{user}", f"client:{client}")
        wait = self.limiter.check(keys)
        if wait:
            log.warning("sign-in refused: too many failures (user %r, client %s); retry in %d s", user, client, wait)
            retry = ((b"retry-after", str(wait).encode()),)
            raise Refused(429, f"too many failed sign-ins: try again in {wait} s", retry, user)
        found = check()
        if found is None:
            self.limiter.fail(keys)
            log.warning("failed sign-in: wrong %s for user %r from %s", what, user, client)
            raise Refused(401, f"wrong user or {what}", _CHALLENGE, user)
        self.limiter.forget(keys[0])
        return found

    def password(self, user: str, password: str) -> Identity | None:
        entry = self.settings.users.get(user)
        if entry is None or not self.verifier.verify(user, password, entry.password_hash.get_secret_value()):
            return None
        return self.user_identity(user, entry.bindings, entry.groups, kind="user")

    def token(self, token: str) -> Identity | None:
        record = self.backends.tokens.check(token)
        if record is None:
            return None
        bindings = record.bindings
        owner = self.settings.users.get(record.owner)
        if owner is not None:  # never more than its owner holds now (roles taken away since are gone)
            now = self.user_identity(record.owner, owner.bindings, owner.groups, kind="user").bindings
            bindings = tuple(b for b in bindings if b.within(now))
        return Identity(name=record.owner, kind="token", bindings=bindings, token_id=record.id)

    def user_identity(self, name: str, bindings: Sequence[Binding], groups: Sequence[str], kind: str) -> Identity:
        """A user's identity: its own bindings and those of its groups (`CONVEYOR_AUTH_GROUP_ROLES`)."""
        roles = self.settings.group_roles
        return Identity(
            name=name,
            kind=kind,
            bindings=merged(bindings, *(roles.get(g, []) for g in groups)),
            groups=tuple(groups),
        )


_CHALLENGE = ((b"www-authenticate", b'Basic realm="conveyor", charset="UTF-8"'),)


def _basic(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Refused(401, "Basic credentials must be base64 of user:password in UTF-8", _CHALLENGE) from None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise Refused(401, "Basic credentials must be base64 of user:password", _CHALLENGE)
    return user, password


def _token_user(token: str) -> str:
    """Who a token claims to be, for counting its failures: its id (never the secret)."""
    from conveyor.api.tokenstore import token_id_of

    return f"token:{token_id_of(token) or '?'}"


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# The authenticator of the app serving the current request (set by `Authenticate` for each request).
current: ContextVar[Authenticator] = ContextVar("conveyor_authenticator")


class Authenticate:
    """ASGI middleware: sets `scope["state"]["identity"]`, or answers 401/429 for wrong credentials."""

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current.set(self.authenticator)
        try:
            found = await run_in_threadpool(self.authenticator.identify, scope)
        except Refused as refused:
            if is_open(scope["path"]):  # anyone may call these: wrong credentials change nothing
                found = None
            else:
                scope.setdefault("state", {})["claimed"] = refused.claimed
                await answer(send, refused.status, refused.message, refused.headers)
                return
        except KafkaError as exc:  # a token cannot be checked without the `auth-tokens` topic
            log.warning("Kafka unavailable for a token check: %s", exc)
            await answer(send, 503, f"Kafka unavailable: {exc}")
            return
        scope.setdefault("state", {})["identity"] = found
        await self.app(scope, receive, send)
