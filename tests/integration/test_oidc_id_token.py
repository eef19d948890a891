"""The ID token checks, with ID tokens a real provider would never issue: a small OIDC provider served on
loopback by the test (discovery, JWKS, authorization and token endpoints) signs them as each case asks.
Keycloak (test_oidc.py) shows the flow with a real provider; this shows each check refuses what it must."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pydantic import SecretStr

from conveyor.api.oidc import OidcLogin, OidcSettings, oidc_router
from tests.oidc_provider import serving

pytestmark = pytest.mark.integration

CLIENT_ID, CLIENT_SECRET = "conveyor", "fake-provider-secret"


@dataclass
class FakeProvider:
    """Signs each ID token with `key` (its JWKS publishes `published`) after applying `tamper` to the claims."""

    published: RSAKey
    key: RSAKey
    issuer: str = ""
    tamper: dict[str, Any] = field(default_factory=dict)
    nonces: dict[str, str] = field(default_factory=dict)  # code -> the nonce of its authorization request
    publishes_keys: bool = True  # False: the discovery document names no jwks_uri

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> JSONResponse:
            document = {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/auth",
                "token_endpoint": f"{self.issuer}/token",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
            return JSONResponse(document | ({"jwks_uri": f"{self.issuer}/jwks"} if self.publishes_keys else {}))

        @app.get("/jwks")
        def jwks() -> JSONResponse:
            return JSONResponse(KeySet([self.published]).as_dict(private=False))

        @app.get("/auth")
        def authorize(redirect_uri: str, state: str, nonce: str) -> RedirectResponse:
            code = uuid.uuid4().hex
            self.nonces[code] = nonce
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=302)

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = parse_qs((await request.body()).decode())  # no python-multipart needed
            nonce = self.nonces.pop(form["code"][0])
            now = int(time.time())
            claims: dict[str, Any] = {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "sub": "user-1",
                "preferred_username": "eve",
            }
            claims |= {"nonce": nonce, "iat": now, "exp": now + 300, "groups": ["team-a"]} | self.tamper
            id_token = jwt.encode({"alg": "RS256", "kid": self.published.kid}, claims, self.key)
            return JSONResponse({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})

        return app


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return rsa_key("k1")


@dataclass
class Setup:
    provider: FakeProvider
    conveyor: str
    completed: list[OidcLogin]


@pytest.fixture
def setup(signing_key: RSAKey) -> Iterator[Setup]:
    provider = FakeProvider(published=signing_key, key=signing_key)
    completed: list[OidcLogin] = []

    def complete(_: Request, login: OidcLogin) -> Response:
        completed.append(login)
        return PlainTextResponse("ok")

    with serving(provider.app()) as issuer:
        provider.issuer = issuer
        settings = OidcSettings(issuer=issuer, client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET))
        app = FastAPI()
        app.include_router(oidc_router(settings, complete))
        with serving(app) as conveyor:
            yield Setup(provider, conveyor, completed)


def log_in(setup: Setup) -> httpx.Response:
    with httpx.Client(timeout=30) as browser:
        start = browser.get(f"{setup.conveyor}/api/v1/auth/oidc/login")
        back = browser.get(start.headers["location"])
        assert back.status_code == 302 and "code" in parse_qs(urlsplit(back.headers["location"]).query)
        return browser.get(back.headers["location"])


def test_a_good_id_token_completes_the_login(setup: Setup) -> None:
    answer = log_in(setup)
    assert answer.status_code == 200, answer.text
    assert setup.completed == [OidcLogin("user-1", "eve", None, ("team-a",))]


@pytest.mark.parametrize(
    ("tamper", "forged_key", "reason"),
    [
        ({}, True, "bad_signature"),
        ({"aud": "someone-else", "azp": CLIENT_ID}, False, "invalid_claim: Invalid claim: 'aud'"),
        ({"nonce": "another-login"}, False, "invalid_claim: Invalid claim: 'nonce'"),
        ({"iss": "https://impostor.example"}, False, "invalid_claim: Invalid claim: 'iss'"),
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, False, "expired_token"),
    ],
    ids=["signed-with-another-key", "another-audience", "another-nonce", "another-issuer", "expired"],
)
def test_an_id_token_failing_a_check_is_refused_with_401(
    setup: Setup, tamper: dict[str, Any], forged_key: bool, reason: str
) -> None:
    setup.provider.tamper = tamper
    if forged_key:
        setup.provider.key = rsa_key("k1")  # the published key id, another key
    answer = log_in(setup)
    assert answer.status_code == 401
    assert answer.json()["message"].startswith(f"the ID token is not valid: {reason}")
    assert setup.completed == []


def test_a_provider_without_keys_is_a_503_not_a_500(setup: Setup) -> None:
    setup.provider.publishes_keys = False
    answer = log_in(setup)
    assert answer.status_code == 503 and "jwks_uri" in answer.json()["message"]
    assert setup.completed == []
