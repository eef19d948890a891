"""The HTTP Request runner (httpx): one request, the response's `code`, `headers` and `body` as outputs.

A response of 400 or more fails the task unless `allowFailed`. The body is read up to
`options.maxContentLength` (10 MiB by default), so a task's cost is bounded by its limit. The request runs
on a thread of its own so that a kill or a timeout ends the attempt at once (the connection is closed).
Credentials never reach a log line: `options.logs` prints headers with the values of `Authorization`,
`Proxy-Authorization` and `Cookie` masked, and the `uri` output and error messages drop the URI's
user-info password.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.http import BasicAuth, HttpOptions, HttpTask, LoggingType, Request
from conveyor.worker.runners.base import RunContext, RunOutcome
from conveyor.worker.runners.http_client import client

SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
MASK = "********"


class BodyTooLarge(Exception):
    pass


@dataclass
class Response:
    code: int
    headers: dict[str, list[str]]
    body: str | None


class RequestRunner:
    def run(self, task: Request, ctx: RunContext) -> RunOutcome:
        uri = request_uri(task, ctx)
        call = Call(task, ctx, uri)
        if not run_call(call, ctx):
            return RunOutcome.failed("the request was stopped")
        return outcome(task, call, safe_uri(uri))


def request_uri(task: HttpTask, ctx: RunContext) -> str:
    return str(ctx.render(task.uri)).replace(" ", "%20")


def run_call(call: Call, ctx: RunContext) -> bool:
    """Run the call on its own thread until it ends (True) or the attempt is stopped (False: closed)."""
    worker = threading.Thread(target=call.run, daemon=True)
    worker.start()
    while not call.done.wait(0.05):
        if ctx.stopped.is_set():
            call.abort()
            return False
    return True


def outcome(task: Request, call: Call, uri: str) -> RunOutcome:
    if call.error is not None:
        return RunOutcome.failed(f"HTTP request to {uri} failed: {describe(call.error)}")
    response = call.response
    assert response is not None
    outputs: dict[str, Any] = {"uri": uri, "code": response.code, "headers": response.headers, "body": response.body}
    if response.code >= 400 and not task.failure_allowed():
        return RunOutcome.failed(f"Failed http request with response code '{response.code}'", outputs)
    return RunOutcome.success(outputs)


class Call:
    """One request on its own thread: `response` or `error` once `done` is set. `consume` reads the
    response (a Request: its body as text; a Download streams it to a file)."""

    def __init__(self, task: HttpTask, ctx: RunContext, uri: str) -> None:
        self.task, self.ctx, self.uri = task, ctx, uri
        self.done = threading.Event()
        self.response: Response | None = None
        self.error: Exception | None = None
        self.client = client(task, ctx)

    def run(self) -> None:
        try:
            with self.client:
                self.response = self.send()
        except Exception as exc:  # reported as the task's failure, never raised on the thread
            self.error = exc
        finally:
            self.done.set()

    def abort(self) -> None:
        self.client.close()

    def send(self) -> Response:
        logged = self.task.options.logged()
        request = self.client.build_request(str(self.ctx.render(self.task.method)).upper(), self.uri, **self.payload())
        log_request(self.ctx, request, logged)
        raw = self.client.send(request, stream=True)
        try:
            response = self.consume(raw)
        finally:
            raw.close()
        log_response(self.ctx, response, logged)
        return response

    def consume(self, raw: httpx.Response) -> Response:
        options = self.task.options
        body = read_limited(raw, options.body_limit())
        return Response(raw.status_code, headers_of(raw.headers), decode(body, raw, options.default_charset))

    def payload(self) -> dict[str, Any]:
        task, render = self.task, self.ctx.render
        content_type = str(render(task.content_type))
        headers = {str(k): str(v) for k, v in render(task.headers).items()}
        auth = authorization(task.options, self.ctx)
        if auth is not None:
            headers["Authorization"] = auth
        if task.form_data:
            return {"headers": headers, **form_payload(render(task.form_data), content_type)}
        headers.setdefault("Content-Type", content_type)
        if task.body is None:
            return {"headers": headers}
        content = str(render(task.body)).encode(task.options.default_charset)
        return {"headers": headers, "content": content}


def form_payload(form: dict[str, Any], content_type: str) -> dict[str, Any]:
    """`formData` as multipart fields (contentType multipart/form-data) or as a URL-encoded form."""
    fields = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}
    if content_type.lower().startswith("multipart/form-data"):
        return {"files": {k: (None, v) for k, v in fields.items()}}
    return {"data": fields}


def authorization(options: HttpOptions, ctx: RunContext) -> str | None:
    """The `Authorization` header of `options.auth` (or the deprecated `basicAuthUser`/`basicAuthPassword`)."""
    configured = options.auth
    if configured is None and (options.basic_auth_user or options.basic_auth_password):
        configured = BasicAuth(type="BASIC", username=options.basic_auth_user, password=options.basic_auth_password)
    if configured is None:
        return None
    if isinstance(configured, BasicAuth):
        pair = f"{ctx.render(configured.username or '')}:{ctx.render(configured.password or '')}"
        return "Basic " + base64.b64encode(pair.encode()).decode()
    return f"Bearer {ctx.render(configured.token)}"


def read_limited(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the response body is larger than options.maxContentLength ({limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, response: httpx.Response, default_charset: str) -> str | None:
    if not body:
        return None
    return body.decode(response.charset_encoding or default_charset, errors="replace")


def headers_of(headers: httpx.Headers) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in headers.multi_items():
        found.setdefault(name.lower(), []).append(value)
    return found


def log_request(ctx: RunContext, request: httpx.Request, logged: set[LoggingType]) -> None:
    if LoggingType.REQUEST_HEADERS in logged:
        ctx.log(LogLevel.INFO, f"request {request.method} {safe_uri(str(request.url))}")
        for name, value in request.headers.multi_items():
            ctx.log(LogLevel.INFO, f"request header {name}: {masked(name, value)}")
    if LoggingType.REQUEST_BODY in logged and request.content:
        ctx.log(LogLevel.INFO, "request body: " + request.content.decode("utf-8", errors="replace"))


def log_response(ctx: RunContext, response: Response, logged: set[LoggingType]) -> None:
    if LoggingType.RESPONSE_HEADERS in logged:
        ctx.log(LogLevel.INFO, f"response code {response.code}")
        for name, values in response.headers.items():
            for value in values:
                ctx.log(LogLevel.INFO, f"response header {name}: {masked(name, value)}")
    if LoggingType.RESPONSE_BODY in logged and response.body:
        ctx.log(LogLevel.INFO, "response body: " + response.body)


def masked(name: str, value: str) -> str:
    return MASK if name.lower() in SENSITIVE_HEADERS else value


def safe_uri(uri: str) -> str:
    """`uri` without the password of its user-info (`http://user:pw@host` -> `http://user@host`)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))


def describe(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({type(error).__name__})"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
