"""The FastAPI application of `conveyor server`: the `/api/v1` routes, their OpenAPI documentation at
`/docs` (Swagger UI served from the installed `swagger-ui-bundle`, no CDN) and the Task Runs page at `/`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from conveyor.api import control, executions, flows, health, taskruns
from conveyor.api.backends import Backends
from conveyor.api.errors import install_handlers
from conveyor.api.settings import ServerSettings
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

DESCRIPTION = """Every task run of every execution, searchable; executions, their logs; deploying flows;
starting, killing and restarting executions. Errors answer
`{"message": ..., "errors": [{"parameter": ..., "message": ...}]}`."""


def create_app(
    kafka: KafkaSettings | None = None,
    es: ElasticsearchSettings | None = None,
    server: ServerSettings | None = None,
) -> FastAPI:
    api = Backends.of(kafka or KafkaSettings(), es or ElasticsearchSettings(), server or ServerSettings())

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
    # control before executions: `POST /executions/{namespace}/{flowId}` would match `/executions/{id}/kill` too
    for module in (taskruns, control, executions, flows, health):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-static")
    page = (STATIC / "index.html").read_text().replace("__REFRESH_SECONDS__", str(api.server.refresh_seconds))

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Conveyor API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/health", include_in_schema=False)
    def health_alias() -> RedirectResponse:
        return RedirectResponse("/api/v1/health")

    return app
