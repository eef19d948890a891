"""The OIDC login without a provider: claims read into an `OidcLogin`, the settings' checks, the state cookie,
and `create_app` offering the routes only when an issuer is configured."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.app import create_app
from conveyor.api.oidc import OidcLogin, OidcSettings, answer_as_json, oidc_router
from conveyor.api.oidc_login import groups_of, login_of
from conveyor.api.oidc_state import COOKIE, StateCookie
from conveyor.api.settings import ServerSettings
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings


def test_the_login_names_the_user_by_preferred_username_then_name_email_subject() -> None:
    claims: dict[str, Any] = {"sub": "id-1", "preferred_username": "ada", "name": "Ada L", "email": "a@x"}
    assert login_of(claims, "groups") == OidcLogin("id-1", "ada", "a@x", ())
    assert login_of(claims | {"preferred_username": ""}, "groups").name == "Ada L"
    assert login_of({"sub": "id-1", "email": "a@x"}, "groups").name == "a@x"
    assert login_of({"sub": "id-1"}, "groups") == OidcLogin("id-1", "id-1", None, ())


@pytest.mark.parametrize(
    ("claims", "claim", "groups"),
    [
        ({"groups": ["team-a", "/team-b", "team-a"]}, "groups", ("team-a", "/team-b")),
        ({"groups": "admins"}, "groups", ("admins",)),
        ({"groups": ["ok", 3, None, "", {"x": 1}]}, "groups", ("ok",)),
        ({"groups": {"not": "a list"}}, "groups", ()),
        ({}, "groups", ()),
        ({"realm_access": {"roles": ["viewer", "runner"]}}, "realm_access.roles", ("viewer", "runner")),
        ({"realm_access": ["roles"]}, "realm_access.roles", ()),
        ({"roles": ["r"]}, "groups", ()),
    ],
)
def test_groups_come_from_the_configured_claim(claims: dict[str, Any], claim: str, groups: tuple[str, ...]) -> None:
    assert groups_of(claims, claim) == groups


def test_an_issuer_needs_the_client_id_and_secret() -> None:
    with pytest.raises(ValidationError, match="CONVEYOR_OIDC_CLIENT_ID and CONVEYOR_OIDC_CLIENT_SECRET"):
        OidcSettings(issuer="https://idp.example/realms/r", client_id="conveyor")
    settings = OidcSettings(issuer="https://idp.example/realms/r/", client_id="c", client_secret=SecretStr("s"))
    assert (
        settings.enabled and settings.discovery_url == "https://idp.example/realms/r/.well-known/openid-configuration"
    )
    assert not OidcSettings().enabled


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("issuer", "idp.example", "http(s) URL"), ("scopes", "profile email", "must include `openid`")],
)
def test_bad_settings_are_refused_naming_the_field(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        OidcSettings.model_validate({"client_id": "c", "client_secret": "s", field: value})
    assert raised.value.errors()[0]["loc"] == (field,) and message in str(raised.value)


def request_with(cookie: str | None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


def stored(cookie: StateCookie, state: dict[str, Any]) -> str:
    response = Response()
    cookie.store(response, state, secure=True)
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "Path=/api/v1/auth/oidc" in header and "SameSite=lax" in header
    assert "Secure" in header
    return header.split(";", 1)[0].split("=", 1)[1]


def test_the_state_cookie_reads_back_only_untampered_and_with_the_same_secret() -> None:
    cookie = StateCookie("secret", max_age=600)
    state = {"_state_conveyor_abc": {"data": {"nonce": "n"}, "exp": 1}}
    value = stored(cookie, state)
    assert cookie.load(request_with(value)) == state
    assert cookie.load(request_with(value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))) == {}
    assert StateCookie("another secret", max_age=600).load(request_with(value)) == {}
    assert cookie.load(request_with(None)) == {}


def test_an_empty_state_deletes_the_cookie() -> None:
    response = Response()
    StateCookie("secret", max_age=600).store(response, {}, secure=False)
    assert f'{COOKIE}=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]


def oidc_paths(oidc: OidcSettings) -> set[str]:
    app = create_app(KafkaSettings(), ElasticsearchSettings(), ServerSettings(), oidc=oidc)
    return {path for path in app.openapi()["paths"] if "/auth/oidc/" in path}


def test_create_app_offers_the_oidc_routes_only_with_an_issuer() -> None:
    assert oidc_paths(OidcSettings()) == set()
    configured = OidcSettings(issuer="https://idp.example/realms/r", client_id="c", client_secret=SecretStr("s"))
    assert oidc_paths(configured) == {"/api/v1/auth/oidc/login", "/api/v1/auth/oidc/callback"}


def test_the_router_refuses_settings_without_an_issuer() -> None:
    with pytest.raises(ValueError, match="needs CONVEYOR_OIDC_ISSUER"):
        oidc_router(OidcSettings(), answer_as_json)
