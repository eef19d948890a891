"""OIDC login against a real Keycloak on loopback (tests/oidc_provider.py), driven over HTTP like a browser:
the login route → Keycloak's login page → its form posted with a test user's password → the callback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import SecretStr

from conveyor.api.oidc import OidcLogin, OidcSettings, oidc_router
from conveyor.api.oidc_state import COOKIE
from conveyor.common.auth import Binding, Role
from conveyor.common.servers.process import free_port
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests import oidc_provider as provider
from tests.apiserver import auth_with
from tests.apiserver import serving as serving_conveyor
from tests.oidc_provider import Provider, serving

pytestmark = pytest.mark.integration

LOGIN = "/api/v1/auth/oidc/login"
CALLBACK = "/api/v1/auth/oidc/callback"


@dataclass
class App:
    """A server with only the OIDC routes; `completed` holds every login `complete` was called with."""

    url: str
    completed: list[OidcLogin] = field(default_factory=list)


def settings_for(provider: Provider, **changes: object) -> OidcSettings:
    values: dict[str, object] = {
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret": SecretStr(provider.client_secret),
    }
    return OidcSettings.model_validate(values | changes)


@contextmanager
def oidc_app(settings: OidcSettings) -> Iterator[App]:
    completed: list[OidcLogin] = []

    def complete(_: Request, login: OidcLogin) -> Response:
        completed.append(login)
        return PlainTextResponse(f"welcome {login.name}")

    app = FastAPI()
    app.include_router(oidc_router(settings, complete))
    with serving(app) as url:
        yield App(url, completed)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    """Keycloak, once per session (or the provider `CONVEYOR_TEST_OIDC_ISSUER` names)."""
    with provider.oidc_provider() as started:
        yield started


@pytest.fixture
def app(oidc_provider: Provider) -> Iterator[App]:
    with oidc_app(settings_for(oidc_provider)) as served:
        yield served


def new_browser() -> httpx.Client:
    """One cookie jar for Conveyor and Keycloak, as a browser has; redirects are followed by hand.

    A browser treats http://127.0.0.1 as a secure context and sends it `Secure` cookies (Keycloak's are);
    httpx does not, so the cookies a loopback server sets lose that flag once stored."""
    client = httpx.Client(timeout=30)

    def loopback_is_secure(_: httpx.Response) -> None:
        for cookie in client.cookies.jar:
            if cookie.domain in ("127.0.0.1", "localhost", "localhost.local"):
                cookie.secure = False

    client.event_hooks["response"] = [loopback_is_secure]
    return client


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with new_browser() as client:
        yield client


def conveyor_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Everything Conveyor's loggers wrote, their extra fields included."""
    return "\n".join(str(vars(record)) for record in caplog.records if record.name.startswith("conveyor"))


class _LoginForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == "kc-form-login":
            self.action = attributes.get("action")


def login_form_action(page: str) -> str:
    parser = _LoginForm()
    parser.feed(page)
    assert parser.action, f"no login form on the provider's page:\n{page[:2000]}"
    return parser.action


def start_login(browser: httpx.Client, app: App) -> httpx.Response:
    """GET the login route: the redirect to the provider."""
    start = browser.get(app.url + LOGIN)
    assert start.status_code == 302, start.text
    return start


def sign_in(browser: httpx.Client, app: App, username: str, password: str) -> httpx.Response:
    """The whole way to the provider's answer to the login form (a redirect to the callback, if it accepted)."""
    start = start_login(browser, app)
    page = browser.get(start.headers["location"], follow_redirects=True)
    assert page.status_code == 200, page.text[:500]
    return browser.post(login_form_action(page.text), data={"username": username, "password": password})


def callback_url(answer: httpx.Response, app: App) -> str:
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["location"]
    assert location.startswith(app.url + CALLBACK + "?"), location
    return str(location)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_a_user_logs_in_and_complete_gets_who_they_are(
    app: App,
    browser: httpx.Client,
    oidc_provider: Provider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="conveyor")
    start = start_login(browser, app)
    asked = query_of(start.headers["location"])
    assert start.headers["location"].startswith(oidc_provider.issuer + "/protocol/openid-connect/auth?")
    assert asked["code_challenge_method"] == "S256" and asked["code_challenge"] and asked["nonce"]
    assert asked["redirect_uri"] == app.url + CALLBACK and asked["client_id"] == "conveyor"
    assert COOKIE in start.cookies

    callback = callback_url(sign_in(browser, app, "ada", oidc_provider.passwords["ada"]), app)
    done = browser.get(callback)

    assert done.status_code == 200 and done.text == "welcome ada"
    (login,) = app.completed
    assert login.name == "ada" and login.email == "ada@example.test"
    assert sorted(login.groups) == ["conveyor-admins", "team-a"]
    assert login.subject and login.subject != "ada"  # Keycloak's user id, stable across renames
    assert f"{COOKIE}=" in done.headers["set-cookie"] and "Max-Age=0" in done.headers["set-cookie"]
    code = query_of(callback)["code"]
    assert code not in conveyor_logs(caplog) and "OIDC login" in conveyor_logs(caplog)


def test_the_subject_is_the_same_at_every_login(app: App, oidc_provider: Provider) -> None:
    for _ in range(2):
        with new_browser() as browser:
            browser.get(callback_url(sign_in(browser, app, "grace", oidc_provider.passwords["grace"]), app))
    first, second = app.completed
    assert first == second and first.groups == ("team-b",)


def test_a_wrong_password_never_reaches_complete(app: App, browser: httpx.Client) -> None:
    answer = sign_in(browser, app, "ada", "not-her-password")
    assert answer.status_code == 200  # the login page again, with Keycloak's error
    assert "Invalid username or password" in answer.text
    assert "location" not in answer.headers
    assert app.completed == []


def test_a_user_in_no_group_has_no_groups(app: App, browser: httpx.Client, oidc_provider: Provider) -> None:
    browser.get(callback_url(sign_in(browser, app, "nobody", oidc_provider.passwords["nobody"]), app))
    (login,) = app.completed
    assert login.name == "nobody" and login.groups == ()


def test_a_tampered_state_is_refused_with_400(
    app: App,
    browser: httpx.Client,
    oidc_provider: Provider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = callback_url(sign_in(browser, app, "ada", oidc_provider.passwords["ada"]), app)
    state = query_of(callback)["state"]
    caplog.set_level(logging.INFO, logger="conveyor")

    refused = browser.get(with_query(callback, state=state[:-1] + ("A" if state[-1] != "A" else "B")))

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["parameter"] == "state"
    assert "state does not match" in refused.json()["message"]
    assert app.completed == []
    assert "OIDC login refused (400)" in conveyor_logs(caplog)
    assert query_of(callback)["code"] not in conveyor_logs(caplog)
    assert browser.get(callback).status_code == 200  # the genuine callback still completes: only the state was wrong
    assert len(app.completed) == 1


def test_a_callback_is_good_once_and_in_the_browser_that_started_it(
    app: App,
    browser: httpx.Client,
    oidc_provider: Provider,
) -> None:
    callback = callback_url(sign_in(browser, app, "ada", oidc_provider.passwords["ada"]), app)
    with new_browser() as other_browser:
        assert other_browser.get(callback).status_code == 400
    assert browser.get(callback).status_code == 200
    replayed = browser.get(callback)
    assert replayed.status_code == 400 and "state" in replayed.json()["message"]
    assert len(app.completed) == 1


def test_a_forged_code_is_refused_with_401(app: App, browser: httpx.Client) -> None:
    state = query_of(start_login(browser, app).headers["location"])["state"]
    refused = browser.get(app.url + CALLBACK, params={"state": state, "code": "forged-code"})
    assert refused.status_code == 401
    assert refused.json()["message"] == "the provider did not accept the authorization code: invalid_grant"
    assert app.completed == []


def test_a_callback_without_code_or_with_the_providers_error_is_refused(app: App, browser: httpx.Client) -> None:
    state = query_of(start_login(browser, app).headers["location"])["state"]
    no_code = browser.get(app.url + CALLBACK, params={"state": state})
    assert no_code.status_code == 400 and no_code.json()["errors"][0]["parameter"] == "code"
    denied = browser.get(app.url + CALLBACK, params={"state": state, "error": "access_denied"})
    assert denied.status_code == 401 and "access_denied" in denied.json()["message"]
    assert app.completed == []


def test_a_wrong_client_secret_is_refused_at_the_code_exchange(
    browser: httpx.Client,
    oidc_provider: Provider,
) -> None:
    with oidc_app(settings_for(oidc_provider, client_secret=SecretStr("not-the-secret"))) as app:
        callback = callback_url(sign_in(browser, app, "ada", oidc_provider.passwords["ada"]), app)
        refused = browser.get(callback)
        assert refused.status_code == 401 and "unauthorized_client" in refused.json()["message"]
        assert app.completed == []


def test_an_issuer_the_discovery_document_does_not_name_is_refused(
    browser: httpx.Client,
    oidc_provider: Provider,
) -> None:
    with oidc_app(settings_for(oidc_provider, issuer=oidc_provider.issuer + "/")) as app:
        refused = browser.get(app.url + LOGIN)
        assert refused.status_code == 503 and "not CONVEYOR_OIDC_ISSUER" in refused.json()["message"]


def test_an_unreachable_provider_is_503_not_500(browser: httpx.Client) -> None:
    settings = OidcSettings(
        issuer=f"http://127.0.0.1:{free_port()}/realms/gone", client_id="conveyor", client_secret=SecretStr("s")
    )
    with oidc_app(settings) as app:
        refused = browser.get(app.url + LOGIN)
        assert refused.status_code == 503 and "could not be reached" in refused.json()["message"]
        callback = browser.get(app.url + CALLBACK, params={"state": "s", "code": "c"})
        assert callback.status_code == 503


def test_conveyor_server_logs_in_through_oidc_when_the_issuer_is_set(
    kafka_settings: KafkaSettings,
    es_settings: ElasticsearchSettings,
    oidc_provider: Provider,
    browser: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVEYOR_OIDC_ISSUER", oidc_provider.issuer)
    monkeypatch.setenv("CONVEYOR_OIDC_CLIENT_ID", oidc_provider.client_id)
    monkeypatch.setenv("CONVEYOR_OIDC_CLIENT_SECRET", oidc_provider.client_secret)
    # the groups' roles (CONVEYOR_AUTH_GROUP_ROLES): what ada holds once signed in
    groups = {"team-a": [Binding(role=Role.RUNNER, namespace="team.a")], "conveyor-admins": [Binding(role=Role.ADMIN)]}
    auth = auth_with().model_copy(update={"group_roles": groups})
    with serving_conveyor(kafka_settings, es_settings, auth=auth) as base:
        app = App(base)
        form = browser.get(f"{base}/login")
        assert 'href="/api/v1/auth/oidc/login"' in form.text and "__OIDC__" not in form.text
        callback = callback_url(sign_in(browser, app, "ada", oidc_provider.passwords["ada"]), app)
        done = browser.get(callback)
        # a session for ada, and the page
        assert done.status_code == 303 and done.headers["location"] == "/", done.text
        assert "conveyor_session" in browser.cookies and "conveyor_csrf" in browser.cookies
        me = browser.get(f"{base}/api/v1/me").json()
        assert browser.get(f"{base}/").status_code == 200
    assert me["name"] == "ada" and me["kind"] == "oidc"
    assert sorted(me["groups"]) == ["conveyor-admins", "team-a"]
    assert {(b["role"], b["namespace"]) for b in me["bindings"]} == {("runner", "team.a"), ("admin", "")}
