"""The OpenAPI document's security: the three ways to authenticate (Basic, Bearer token, the page's session
cookie) declared once, required by every operation but the few open ones (health, signing in and out)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from conveyor.api.authn import is_open
from conveyor.api.security import SESSION_COOKIE

SCHEMES: dict[str, Any] = {
    "basic": {"type": "http", "scheme": "basic", "description": "a user of CONVEYOR_AUTH_USERS and its password"},
    "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (POST /api/v1/tokens)"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "the page's session (POST /api/v1/auth/login); unsafe requests add X-CSRF-Token",
    },
}
REQUIRED: list[dict[str, list[str]]] = [{"basic": []}, {"bearer": []}, {"session": []}]


def with_security(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            document.setdefault("components", {})["securitySchemes"] = SCHEMES
            for path, operations in document.get("paths", {}).items():
                for operation in operations.values():
                    operation["security"] = [] if is_open(path) else REQUIRED
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
