"""The state of a login in progress, kept in the browser: a signed, short-lived, HttpOnly cookie.

Authlib keeps what it needs between the redirect to the provider and the callback (the state, the nonce, the
PKCE code verifier, the redirect URI) in `request.session`. Rather than a session middleware over the whole
app, the OIDC routes fill `request.session` from this cookie and write it back: the cookie is sent only to
`/api/v1/auth/oidc/` (its path), signed with itsdangerous (a key derived from the client secret, so every
replica of the server accepts it), and refused once older than the configured maximum age. A tampered or
expired cookie reads as empty, and Authlib then refuses the callback's state.
"""

from __future__ import annotations

import logging
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

COOKIE = "conveyor_oidc_state"
PATH = "/api/v1/auth/oidc"
_SALT = "conveyor-oidc-state"


class StateCookie:
    """Reads and writes the login state cookie."""

    def __init__(self, secret: str, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._max_age = max_age

    def load(self, request: Request) -> dict[str, Any]:
        """The state of the logins started in this browser; empty when none, tampered or expired."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return {}
        try:
            value = self._serializer.loads(raw, max_age=self._max_age)
        except BadSignature as error:  # SignatureExpired is one too
            log.info("OIDC state cookie refused: %s", type(error).__name__)
            return {}
        return value if isinstance(value, dict) else {}

    def store(self, response: Response, state: dict[str, Any], *, secure: bool) -> None:
        if not state:
            self.clear(response)
            return
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(state),
            max_age=self._max_age,
            path=PATH,
            secure=secure,
            httponly=True,
            # Lax: the provider's redirect back is a top-level GET navigation from another site.
            samesite="lax",
        )

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="lax")
