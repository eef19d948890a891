"""The page's session: a signed, timestamped cookie (`conveyor_session`, itsdangerous) holding the identity,
and beside it the CSRF cookie (`conveyor_csrf`, readable by the page's script) that `api/security.py`'s
`Csrf` checks on every unsafe request. Stateless: any server with the same `CONVEYOR_AUTH_SESSION_SECRET`
accepts the cookie until it expires; signing out removes both cookies from the browser.
"""

from __future__ import annotations

import secrets

from fastapi import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import ValidationError

from conveyor.api.security import CSRF_COOKIE, SESSION_COOKIE
from conveyor.api.settings import AuthSettings
from conveyor.common.auth import Identity

SALT = "conveyor-session"


class Sessions:
    def __init__(self, settings: AuthSettings, *, secure: bool) -> None:
        secret = settings.session_secret.get_secret_value() if settings.session_secret else secrets.token_hex(32)
        self._signer = URLSafeTimedSerializer(secret, salt=SALT)
        self.max_age = int(settings.session_hours * 3600)
        self.secure = secure

    def identity(self, cookie: str) -> Identity | None:
        """The identity a session cookie carries, None when it is forged, expired or unreadable."""
        try:
            payload = self._signer.loads(cookie, max_age=self.max_age)
            return Identity.model_validate(payload)
        except (BadSignature, ValidationError, TypeError, ValueError):
            return None

    def start(self, response: Response, identity: Identity) -> None:
        value = self._signer.dumps(identity.model_dump(mode="json", by_alias=True, exclude_none=True))
        common = {"max_age": self.max_age, "secure": self.secure, "path": "/"}
        response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="lax", **common)  # type: ignore[arg-type]
        response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, samesite="strict", **common)  # type: ignore[arg-type]

    def end(self, response: Response) -> None:
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", secure=self.secure)
