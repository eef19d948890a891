"""Errors of the HTTP API, and how every failure becomes a JSON answer (never a bare 500 for bad input).

ApiError (ConveyorError)        an answer with a status and a message, raised by the routes:
├── BadParameter                400/422: a parameter is wrong; the answer names it
├── NotFound                    404: no such execution or flow
└── Conflict                    409: the execution's state does not allow the request (kill, restart)

Handlers turn the rest into answers too:
- FastAPI's own validation (a wrong type, a value out of range, an unknown state) → 422 naming each parameter;
- `FlowError` → 422 with each problem's field, line and column; `InputError` → 422 naming each input
  (`inputs.<id>`) and the rule it breaks;
- `QueryError` (indexer) → 400; Elasticsearch refusing a query (4xx) → 400;
- Elasticsearch or Kafka unreachable → 503.

- any other HTTP error of the framework (an unparsable JSON body 400, an unknown path 404, a wrong method
  405 with `Allow`) → the same shape.

Every error answer has the shape `{"message": str, "errors": [{"parameter"|"field", "in", "message", ...}]}`
(`ErrorAnswer`); `error_responses(...)` declares it in the OpenAPI document for each status a route answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from conveyor.common.errors import ConveyorError, FlowError, InputError
from conveyor.common.inputs import InputProblems
from conveyor.common.kafka.errors import KafkaError
from conveyor.indexer.errors import QueryError

log = logging.getLogger(__name__)


class ErrorItem(BaseModel):
    """One problem: the parameter (or the flow's field) it is about, where, and what is wrong."""

    model_config = ConfigDict(extra="allow")

    parameter: str | None = Field(default=None, description="the parameter, for a bad parameter")
    field: str | None = Field(default=None, description="the flow's field (e.g. tasks[0].type), for a flow")
    in_: str | None = Field(default=None, alias="in", description="query, path, body or request")
    message: str
    line: int | None = Field(default=None, description="in a flow's YAML: the 1-based line")
    column: int | None = Field(default=None, description="in a flow's YAML: the 1-based column")


class ErrorAnswer(BaseModel):
    """Every error answer of the API."""

    message: str
    errors: list[ErrorItem] = []


_MEANINGS = {
    400: "a parameter or the body is wrong (named in `errors`), or Elasticsearch refused the query",
    401: "no credentials, or wrong ones",
    403: "the identity's roles do not allow it",
    404: "not found: the message says what",
    409: "the execution's state does not allow it; the message names the state",
    413: "the body is too large",
    422: "a parameter or the body is invalid: each problem named in `errors`",
    429: "too many failed sign-ins: try again after `Retry-After` seconds",
    503: "Elasticsearch or Kafka unreachable",
}


def error_responses(*statuses: int, **meanings: str) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route answering these error statuses, each with the `ErrorAnswer` model;
    `meanings` (`_404="..."`) overrides a description."""
    return {
        status: {"model": ErrorAnswer, "description": meanings.get(f"_{status}", _MEANINGS[status])}
        for status in statuses
    }


def by_ids_responses(conflict: str) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of an all-or-nothing operation on a body's list of execution ids; `conflict` says which
    state makes it refuse (the 409)."""
    return error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        503,
        _400="the body is not a JSON list of ids in UTF-8",
        _404="some executions are unknown (named)",
        _409=conflict,
    )


class ApiError(ConveyorError):
    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = dict(headers or {})


class BadParameter(ApiError):
    def __init__(self, parameter: str, message: str, *, where: str = "query", status: int = 400) -> None:
        super().__init__(
            status,
            f"invalid parameter '{parameter}': {message}",
            [{"parameter": parameter, "in": where, "message": message}],
        )
        self.parameter = parameter


class NotFound(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class Conflict(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(409, message)


def _answer(
    status: int, message: str, errors: list[dict[str, Any]] | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"message": message, "errors": errors or []}, status_code=status, headers=headers)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    if exc.status_code == 405:  # Starlette names the first route's methods; a path may have several routes
        return _answer(405, message, headers={"Allow": ", ".join(_allowed(request))})
    if exc.status_code == 400 and "parsing the body" in message:
        message = "the body could not be parsed: expected JSON in UTF-8"
        errors = [{"parameter": "body", "in": "body", "message": message}]
        return _answer(400, message, errors)
    return _answer(exc.status_code, message, headers=exc.headers)


def _allowed(request: Request) -> list[str]:
    """The methods of the most specific routes matching the path: `/executions/{id}/file` (GET) also matches
    the template `/executions/{namespace}/{flowId}` (POST), but its literal `file` makes the GET route the one
    that path is documented by."""
    matching = _methods(request.app.router.routes, {**request.scope, "method": "GET"})
    best = max((literals for literals, _ in matching), default=0)
    return sorted({method for literals, methods in matching if literals == best for method in methods})


def _literals(path: str) -> int:
    return sum(1 for segment in path.split("/") if segment and not segment.startswith("{"))


def _methods(routes: Any, scope: dict[str, Any], depth: int = 0) -> list[tuple[int, set[str]]]:
    """(literal segments of its path, its methods) of every endpoint among `routes` (and the routers included in
    them) whose path matches."""
    found: list[tuple[int, set[str]]] = []
    for route in routes or ():
        if hasattr(route, "endpoint"):
            if route.matches(scope)[0] != Match.NONE:
                found.append((_literals(getattr(route, "path", "")), set(getattr(route, "methods", None) or ())))
            continue
        nested = getattr(getattr(route, "original_router", route), "routes", None)
        if nested and depth < 4:
            found += _methods(nested, scope, depth + 1)
    return found


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, str]] = []
    for err in exc.errors():
        where, name = _location(tuple(err.get("loc", ())))
        message = str(err.get("msg", "invalid")).replace("Input should be", "expected")
        same = next((e for e in errors if (e["in"], e["parameter"]) == (where, name)), None)
        if same is None:
            errors.append({"parameter": name, "in": where, "message": message})
        elif message not in same["message"]:  # the members of a union (`int | float`): one field, one entry
            same["message"] += f", or {message.removeprefix('expected ')}"
    first = errors[0] if errors else {"parameter": "request", "message": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _answer(422, f"invalid parameter '{first['parameter']}': {first['message']}{more}", errors)


def _location(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """`("query", "state", 0)` -> `("query", "state")`; `("body", "state", 1)` -> `("body", "state[1]")`."""
    if not loc:
        return "request", "request"
    where, rest = str(loc[0]), loc[1:]
    if where != "body":
        return where, str(rest[0]) if rest else where
    name = ""
    for part in rest:
        if isinstance(part, str) and _UNION_MEMBER.match(part):
            continue  # pydantic names the member of `int | float` that failed; the caller wrote one field
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return where, name or "body"


_UNION_MEMBER = re.compile(r"^(int|float|str|bool|bytes|none|(list|dict|set|tuple|function-\w+|json-or-python)\[.*\])$")


def _api(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _answer(exc.status, exc.message, exc.errors, exc.headers)


def _flow(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FlowError)
    errors = [
        {"field": p.field, "in": "body", "message": p.message, "line": p.line, "column": p.column} for p in exc.problems
    ]
    return _answer(422, str(exc), errors)


def _inputs(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InputProblems):  # one item per input, named `inputs.<id>`
        errors = [
            {"parameter": f"inputs.{name}" if name else "inputs", "in": "body", "message": message}
            for name, message in exc.problems
        ]
        return _answer(422, str(exc), errors)
    return _answer(422, str(exc), [{"parameter": "inputs", "in": "body", "message": str(exc)}])


def _query(_: Request, exc: Exception) -> JSONResponse:
    return _answer(400, str(exc))


def _elasticsearch(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, EsApiError) and 400 <= exc.status_code < 500 and exc.status_code != 429:
        return _answer(400, f"Elasticsearch refused the query: {exc.message}")
    log.warning("Elasticsearch unavailable: %s", exc)
    return _answer(503, f"Elasticsearch unavailable: {exc}")


def _kafka(_: Request, exc: Exception) -> JSONResponse:
    log.warning("Kafka unavailable: %s", exc)
    return _answer(503, f"Kafka unavailable: {exc}")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(FlowError, _flow)
    app.add_exception_handler(InputError, _inputs)
    app.add_exception_handler(QueryError, _query)
    app.add_exception_handler(EsApiError, _elasticsearch)
    app.add_exception_handler(TransportError, _elasticsearch)
    app.add_exception_handler(KafkaError, _kafka)
