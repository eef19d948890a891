"""Signing in and out of the page, and who am I:

- `POST /api/v1/auth/login` takes a user and password (JSON, or the sign-in form's fields), checks them as
  Basic authentication does (the same rate limit), and sets the session and CSRF cookies;
- `POST /api/v1/auth/logout` removes them;
- `GET /api/v1/me` answers the caller's identity and role bindings.

For the OIDC sign-in (`api/oidc.py`): `start_session(response, identity)` sets both cookies, and
`identity_from_groups(name, groups)` makes an identity from the group mapping (`CONVEYOR_AUTH_GROUP_ROLES`).
Both act with the authenticator of the app serving the current request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conveyor.api.authn import Refused, client_of, current
from conveyor.api.errors import ApiError, BadParameter, error_responses
from conveyor.api.identity import authenticated
from conveyor.api.oidc_login import OidcLogin
from conveyor.common.auth import Binding, Identity

router = APIRouter(prefix="/api/v1", tags=["authentication"])

STATIC = Path(__file__).parent / "static"
OIDC_PLACEHOLDER = "__OIDC__"


def start_session(response: Response, identity: Identity) -> None:
    """Set the session cookie (the identity, signed) and the CSRF cookie on `response`."""
    current.get().sessions.start(response, identity)


def identity_from_groups(name: str, groups: Sequence[str]) -> Identity:
    """An OIDC user's identity: the bindings `CONVEYOR_AUTH_GROUP_ROLES` gives its groups."""
    return current.get().user_identity(name, (), groups, kind="oidc")


SSO_LINK = '<p class="sso"><a href="/api/v1/auth/oidc/login">Sign in with SSO</a></p>'


def complete_oidc(request: Request, login: OidcLogin) -> Response:
    """A good OIDC callback: a session for the user, with the bindings of its groups; then the page."""
    found = identity_from_groups(login.name, login.groups)
    request.state.identity = found
    response = RedirectResponse("/", status_code=303)
    start_session(response, found)
    return response


def login_page(sso: str = "") -> str:
    """The sign-in form; `sso` (HTML: the "Sign in with SSO" link) replaces the placeholder, empty by default."""
    return (STATIC / "login.html").read_text().replace(OIDC_PLACEHOLDER, sso)


class Credentials(BaseModel):
    # Unknown fields are refused (422 naming them), as the schema says: the sign-in form has these three.
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=250)
    password: str = Field(max_length=1000)
    next: str = Field(default="/", max_length=2000, description="where the form goes after signing in")


class Me(BaseModel):
    name: str
    kind: str = Field(description="user, token, oidc or anonymous")
    bindings: list[Binding]
    groups: list[str]
    tokenId: str | None = None


_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": Credentials.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": Credentials.model_json_schema()},
        },
    }
}


@router.post(
    "/auth/login",
    summary="Sign in: set the page's session and CSRF cookies",
    openapi_extra=_LOGIN_BODY,
    response_model=Me,
    responses={
        303: {"description": "the sign-in form's post: signed in, go to `next`"},
        **error_responses(400, 401, 413, 422, 429, _401="wrong user or password"),
    },
)
async def login(request: Request) -> Response:
    authenticator = current.get()
    form = "application/x-www-form-urlencoded" in request.headers.get("content-type", "")
    credentials = _credentials(await request.body(), form)
    try:
        found = authenticator.guarded(
            credentials.user,
            client_of(request.scope),
            "password",
            lambda: authenticator.password(credentials.user, credentials.password),
        )
    except Refused as refused:
        request.state.claimed = refused.claimed
        headers = {k.decode(): v.decode() for k, v in refused.headers}
        raise ApiError(refused.status, refused.message, headers=headers) from None
    request.state.identity = found
    response: Response = RedirectResponse(_local(credentials.next), status_code=303) if form else _me_response(found)
    authenticator.sessions.start(response, found)
    return response


def _credentials(raw: bytes, form: bool) -> Credentials:
    try:
        if form:
            pairs = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
            fields: Any = {k: v[0] for k, v in pairs.items()}
        else:
            fields = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadParameter("body", "expected {user, password} as JSON or a form", where="body") from None
    try:
        return Credentials.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise BadParameter(name, str(first.get("msg", "invalid")), where="body", status=422) from None


def _local(target: str) -> str:
    """Only a path of this server: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _me_response(found: Identity) -> Response:
    return Response(_me(found).model_dump_json(), media_type="application/json")


def _me(found: Identity) -> Me:
    return Me(
        name=found.name,
        kind=found.kind,
        bindings=list(found.bindings),
        groups=list(found.groups),
        tokenId=found.token_id,
    )


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Sign out: remove the session and CSRF cookies",
    responses=error_responses(403),
)
def logout() -> Response:
    response = Response(status_code=204)
    current.get().sessions.end(response)
    return response


@router.get(
    "/me",
    response_model=Me,
    summary="Who am I: the caller and its role bindings",
    responses=error_responses(401, 429),
    dependencies=[Depends(authenticated)],
)
def me(request: Request) -> Me:
    return _me(authenticated(request))


def page_for(request: Request, page: str) -> HTMLResponse | RedirectResponse:
    """The page for a caller with an identity; without one, the sign-in form (coming back here after)."""
    from conveyor.api.identity import identity

    if identity(request) is None:
        asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(asked, safe='')}", status_code=303)
    return HTMLResponse(page)
