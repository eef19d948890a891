"""OIDC login for the page: the authorization-code flow with PKCE, state and nonce, through Authlib.

`GET /api/v1/auth/oidc/login` redirects the browser to the provider; the provider sends it back to
`GET /api/v1/auth/oidc/callback`, where Authlib exchanges the code (with the PKCE verifier) and validates the ID
token: its signature against the provider's JWKS, its issuer (the configured one, which the discovery document
must name too), its audience (the client id), its nonce and its expiry. A good callback calls `complete` with
the `OidcLogin` and answers what it returns (the session is its business). Anything else is refused: 400 for a
callback this browser did not start (a missing or tampered state, no code), 401 when the provider refused the
login or the code, or the ID token is not valid, 503 when the provider cannot be reached. Refusals are logged
with their reason, never with a code or a token.

    app.include_router(oidc_router(OidcSettings(), complete))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
import joserfc.errors
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from conveyor.api.errors import error_responses
from conveyor.api.oidc_login import OidcLogin, login_of
from conveyor.api.oidc_settings import OidcSettings
from conveyor.api.oidc_state import PATH, StateCookie

__all__ = ["OidcLogin", "OidcRefused", "OidcSettings", "answer_as_json", "oidc_router"]

log = logging.getLogger(__name__)

Complete = Callable[[Request, OidcLogin], Response]
CALLBACK = f"{PATH}/callback"
# The provider unreachable, answering an HTTP error or what is not JSON, or a discovery document without an
# endpoint Authlib needs (RuntimeError): a 503, never a 500.
PROVIDER_FAILURES = (httpx2.HTTPError, OSError, ValueError, RuntimeError)


class OidcRefused(Exception):
    """A login that cannot go on: the answer's status, the query parameter at fault (if one), why."""

    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.parameter = status, message, parameter

    def answer(self) -> JSONResponse:
        where = [{"parameter": self.parameter, "in": "query", "message": self.message}] if self.parameter else []
        return JSONResponse({"message": self.message, "errors": where}, status_code=self.status)


class Provider:
    """The OIDC provider, as Authlib's Starlette client sees it, with the login state in a signed cookie."""

    def __init__(self, settings: OidcSettings) -> None:
        if not (settings.issuer and settings.client_id and settings.client_secret):
            raise ValueError("OIDC login needs CONVEYOR_OIDC_ISSUER, CONVEYOR_OIDC_CLIENT_ID and _CLIENT_SECRET")
        self.settings = settings
        secret = settings.client_secret.get_secret_value()
        self.cookie = StateCookie(secret, settings.state_max_age_seconds)
        self.client: Any = OAuth().register(
            name="conveyor",
            client_id=settings.client_id,
            client_secret=secret,
            server_metadata_url=settings.discovery_url,
            client_kwargs={
                "scope": settings.scopes,
                "code_challenge_method": "S256",
                "timeout": settings.timeout_seconds,
            },
        )

    async def start(self, request: Request) -> Response:
        """The redirect to the provider's authorization endpoint, with the new login's state in the cookie."""
        redirect_uri = self._redirect_uri(request)
        session = self._session(request)
        await self._unreachable_as_refusal(self._metadata())
        response: Response = await self._unreachable_as_refusal(self.client.authorize_redirect(request, redirect_uri))
        self.cookie.store(response, session, secure=redirect_uri.startswith("https://"))
        return response

    async def finish(self, request: Request) -> OidcLogin:
        """The login the callback proves, or OidcRefused."""
        query = request.query_params
        if error := query.get("error"):
            description = (query.get("error_description") or "")[:200]
            raise OidcRefused(401, f"the provider refused the login: {error} {description}".strip(), "error")
        for parameter in ("state", "code"):
            if not query.get(parameter):
                raise OidcRefused(400, f"the callback has no `{parameter}`: start at {PATH}/login", parameter)
        self._session(request)
        await self._unreachable_as_refusal(self._metadata())
        claims = await self._validated_claims(request)
        return login_of(claims, self.settings.groups_claim)

    def forget_used_state(self, request: Request, response: Response) -> None:
        """Write back what is left of the cookie (other logins started in this browser), or drop it."""
        self.cookie.store(response, request.session, secure=self._redirect_uri(request).startswith("https://"))

    async def _validated_claims(self, request: Request) -> Mapping[str, Any]:
        # Authlib checks `azp`, not that `aud` names this client: both are asked for here.
        options = {
            "iss": {"essential": True, "values": [self.settings.issuer]},
            "aud": {"essential": True, "values": [self.settings.client_id]},
        }
        try:
            token = await self.client.authorize_access_token(request, claims_options=options)
        except MismatchingStateError as error:
            raise OidcRefused(
                400, "the state does not match a login started in this browser (tampered, expired or reused)", "state"
            ) from error
        except OAuthError as error:
            raise OidcRefused(401, f"the provider did not accept the authorization code: {error.error}") from error
        except joserfc.errors.JoseError as error:
            raise OidcRefused(401, f"the ID token is not valid: {error.error}: {error.description}") from error
        except PROVIDER_FAILURES as error:
            raise self._unreachable(error) from error
        claims = token.get("userinfo")
        if not claims:
            raise OidcRefused(401, "the provider answered no ID token (is `openid` among the scopes?)")
        return dict(claims)

    async def _metadata(self) -> Mapping[str, Any]:
        metadata: Mapping[str, Any] = await self.client.load_server_metadata()
        if metadata.get("issuer") != self.settings.issuer:
            raise OidcRefused(
                503,
                f"the provider's discovery document names the issuer {metadata.get('issuer')!r}, "
                f"not CONVEYOR_OIDC_ISSUER {self.settings.issuer!r}",
            )
        return metadata

    async def _unreachable_as_refusal(self, call: Any) -> Any:
        try:
            return await call
        except PROVIDER_FAILURES as error:
            raise self._unreachable(error) from error

    def _unreachable(self, error: Exception) -> OidcRefused:
        if isinstance(error, httpx2.HTTPStatusError):
            url = error.request.url
            why = f"{url.scheme}://{url.host}:{url.port}{url.path} answered {error.response.status_code}"
            return OidcRefused(503, f"the OIDC provider {self.settings.issuer} failed: {why}")
        if isinstance(error, RuntimeError | ValueError):  # Authlib's "Missing jwks_uri", a body that is not JSON
            return OidcRefused(503, f"the OIDC provider {self.settings.issuer} answered what cannot be used: {error}")
        return OidcRefused(
            503, f"the OIDC provider {self.settings.issuer} could not be reached: {type(error).__name__}"
        )

    def _session(self, request: Request) -> dict[str, Any]:
        """Authlib's `request.session`, read from the state cookie (no session middleware needed)."""
        session = self.cookie.load(request)
        request.scope["session"] = session
        return session

    def _redirect_uri(self, request: Request) -> str:
        if base := self.settings.redirect_base_url:
            return f"{base.rstrip('/')}{CALLBACK}"
        return str(request.url_for("oidc_callback"))


def oidc_router(settings: OidcSettings, complete: Complete) -> APIRouter:
    """The login and callback routes; a good callback answers `complete(request, login)`."""
    provider = Provider(settings)
    router = APIRouter(prefix=PATH, tags=["authentication"])

    @router.get(
        "/login",
        status_code=302,
        response_class=Response,
        responses={302: {"description": "to the provider's login page"}, **error_responses(503)},
    )
    async def oidc_login(request: Request) -> Response:
        """Start an OIDC login: a redirect to the provider, the login's state in a short-lived cookie."""
        try:
            return await provider.start(request)
        except OidcRefused as refused:
            return _refused(request, refused)

    @router.get(
        "/callback",
        response_class=Response,
        responses={
            200: {"description": "what the login's completion answers (a session and a redirect to the page)"},
            **error_responses(400, 401, 503, _400="the callback was not started in this browser, or has no code"),
        },
    )
    async def oidc_callback(request: Request) -> Response:
        """Where the provider sends the browser back: the code exchanged, the ID token validated."""
        try:
            login = await provider.finish(request)
        except OidcRefused as refused:
            return _refused(request, refused)
        log.info("OIDC login", extra={"subject": login.subject, "user": login.name, "groups": list(login.groups)})
        response = await run_in_threadpool(complete, request, login)
        provider.forget_used_state(request, response)
        return response

    return router


def answer_as_json(_: Request, login: OidcLogin) -> Response:
    """The default completion until sessions are wired: the login itself, as JSON."""
    return JSONResponse(
        {"subject": login.subject, "name": login.name, "email": login.email, "groups": list(login.groups)}
    )


def _refused(request: Request, refused: OidcRefused) -> Response:
    client = request.client.host if request.client else None
    log.warning("OIDC login refused (%d): %s", refused.status, refused.message, extra={"client": client})
    return refused.answer()
