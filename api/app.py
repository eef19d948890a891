"""The FastAPI application of `conveyor server`: the `/api/v1` routes, their OpenAPI documentation at
`/docs` (Swagger UI served from the installed `swagger-ui-bundle`, no CDN) and the pages: Task Runs at `/`,
Executions at `/executions`, Logs at `/logs`, Flows at `/flows`, Namespaces at `/namespaces`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware

from conveyor.api import (
    audit,
    auth,
    control,
    deletion,
    execution_search,
    execution_taskruns,
    executions,
    files,
    flows,
    follow,
    health,
    kv,
    log_search,
    nsfiles,
    pages,
    taskruns,
    tokens,
    triggers,
    unqueue,
    webhook,
)
from conveyor.api.authn import Authenticate, Authenticator
from conveyor.api.backends import Backends
from conveyor.api.errors import install_handlers
from conveyor.api.oidc import OidcSettings, oidc_router
from conveyor.api.openapi import with_security
from conveyor.api.security import BodyLimit, Csrf, SecurityHeaders, cors_options, policy_with_style_nonce
from conveyor.api.settings import AuthSettings, ServerSettings
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

DESCRIPTION = """Every task run of every execution, searchable; executions, their logs; deploying flows;
starting, killing and restarting executions; the audit trail. Errors answer
`{"message": ..., "errors": [{"parameter": ..., "message": ...}]}`."""

# Swagger UI without an inline script (the Content-Security-Policy allows none): its set-up is static/docs.js.
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Conveyor API</title>
  <link rel="stylesheet" href="/docs-static/swagger-ui.css">
  <link rel="icon" href="/static/favicon.svg">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs-static/swagger-ui-bundle.js"></script>
  <script src="/static/docs.js"></script>
</body>
</html>
"""


# The pages beside Task Runs and Flows, each at /NAME from static/NAME.html.
LIST_PAGES = ("executions", "logs", "namespaces")


def _list_pages(app: FastAPI, refresh: int) -> None:
    for name in LIST_PAGES:
        html = pages.render(name, refresh)
        app.add_api_route(f"/{name}", _page_of(html), methods=["GET"], include_in_schema=False, response_model=None)


def _page_of(html: str) -> Callable[[Request], HTMLResponse | RedirectResponse]:
    def page(request: Request) -> HTMLResponse | RedirectResponse:
        return auth.page_for(request, html)

    return page


def create_app(
    kafka: KafkaSettings | None = None,
    es: ElasticsearchSettings | None = None,
    server: ServerSettings | None = None,
    auth_settings: AuthSettings | None = None,
    oidc: OidcSettings | None = None,
) -> FastAPI:
    oidc = oidc or OidcSettings()
    api = Backends.of(
        kafka or KafkaSettings(),
        es or ElasticsearchSettings(),
        server or ServerSettings(),
        auth_settings or AuthSettings(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        api.close()

    app = FastAPI(
        title="Conveyor",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.backends = api
    install_handlers(app)
    # control before executions: `POST /executions/{namespace}/{flowId}` would match `/executions/{id}/kill` too;
    # webhook before both, so that no pattern of theirs ever takes `/executions/webhook/...`
    for module in (
        taskruns,
        execution_search,
        log_search,
        webhook,
        deletion,
        unqueue,
        control,
        files,
        follow,
        execution_taskruns,
        executions,
        flows,
        triggers,
        health,
        audit,
        auth,
        tokens,
        kv,
        nsfiles,
    ):
        app.include_router(module.router)
    if oidc.enabled:  # the page's OIDC sign-in: a good callback starts a session from the user's groups
        app.include_router(oidc_router(oidc, auth.complete_oidc))
    with_security(app)
    # Added innermost first: SecurityHeaders wraps Audit wraps BodyLimit wraps CORS wraps Authenticate wraps Csrf
    # wraps the routes, so that a request refused by authentication or the CSRF check is audited (with the
    # caller's name when known) and every answer carries the headers.
    app.add_middleware(Csrf, trusted_origins=list(api.server.cors_origins))
    app.add_middleware(Authenticate, authenticator=Authenticator(api))
    if api.server.cors_origins:
        app.add_middleware(CORSMiddleware, **cors_options(list(api.server.cors_origins)))
    app.add_middleware(BodyLimit, limit=api.server.max_request_bytes)
    app.add_middleware(audit.Audit, backends=api)
    app.add_middleware(SecurityHeaders, tls=api.server.tls)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-static")
    page = pages.render("index", api.server.refresh_seconds)
    _list_pages(app, api.server.refresh_seconds)
    # The "Sign in with SSO" link of the sign-in form (HTML); empty while no OIDC provider is configured.
    app.state.sso_link = auth.SSO_LINK if oidc.enabled else ""

    @app.get("/", include_in_schema=False, response_model=None)
    def index(request: Request) -> HTMLResponse | RedirectResponse:
        return auth.page_for(request, page)

    flows_page = pages.render("flows")

    @app.get("/flows", include_in_schema=False, response_model=None)
    @app.get("/flows/new", include_in_schema=False, response_model=None)
    @app.get("/flows/{namespace}/{flow_id}", include_in_schema=False, response_model=None)
    def flows_pages(request: Request) -> HTMLResponse | RedirectResponse:
        nonce = secrets.token_urlsafe(18)
        answer = auth.page_for(request, flows_page.replace("__STYLE_NONCE__", nonce))
        answer.headers["Content-Security-Policy"] = policy_with_style_nonce(nonce)
        return answer

    _execution_page(app)

    @app.get("/login", include_in_schema=False)
    def login_form() -> HTMLResponse:
        return HTMLResponse(auth.login_page(str(app.state.sso_link)))

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    @app.get("/health", include_in_schema=False)
    def health_alias() -> RedirectResponse:
        return RedirectResponse("/api/v1/health")

    return app


def _execution_page(app: FastAPI) -> None:
    """`/execution.html?id=EXECUTION_ID`: one execution (its header, Gantt, topology and logs)."""
    page = pages.render("execution")

    @app.get("/execution.html", include_in_schema=False, response_model=None)
    def execution_view(request: Request) -> HTMLResponse | RedirectResponse:
        return auth.page_for(request, page)
