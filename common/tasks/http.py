"""`io.kestra.plugin.core.http.Request`: one HTTP request, its response in the outputs.

The properties are the reference's, `options` included with its deprecated spellings (`connectTimeout`,
`readTimeout`, `basicAuthUser`/`basicAuthPassword`, `proxyType`/`proxyAddress`/`proxyPort`/`proxyUsername`/
`proxyPassword`, top-level `allowFailed` and `sslOptions`). How it runs lives in
`worker.runners.http`."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from conveyor.common.base import Spec
from conveyor.common.clock import Duration
from conveyor.common.tasks.base import LogLevel, RunnableTask

# The response body's limit when `options.maxContentLength` is not set (the reference's default, 10 MiB).
DEFAULT_MAX_CONTENT_LENGTH = 10 * 1024 * 1024
# A download's limit when `options.maxContentLength` is not set (it streams to the storage, not to memory).
DEFAULT_MAX_DOWNLOAD_LENGTH = 1024 * 1024 * 1024
# How long a read may wait for data when no timeout is configured (the reference's `readIdleTimeout`).
DEFAULT_READ_TIMEOUT = timedelta(seconds=300)


class BasicAuth(Spec):
    type: Literal["BASIC"]
    username: str | None = None
    password: str | None = None


class BearerAuth(Spec):
    type: Literal["BEARER"]
    token: str


class TimeoutOptions(Spec):
    connect_timeout: Duration | None = None
    read_idle_timeout: Duration | None = None


class ProxyType(StrEnum):
    """Java's `Proxy.Type`, as the reference takes it."""

    DIRECT = "DIRECT"
    HTTP = "HTTP"
    SOCKS = "SOCKS"


class ProxyOptions(Spec):
    """`options.proxy`: the proxy every request of the task goes through (none with `type: DIRECT`, the
    default, as in the reference). `address`, `username` and `password` may be expressions."""

    type: ProxyType = ProxyType.DIRECT
    address: str | None = None
    port: int | str | None = None
    username: str | None = None
    password: str | None = None


class SslOptions(Spec):
    """`options.ssl` (and the deprecated task-level `sslOptions`)."""

    insecure_trust_all_certificates: bool | None = None


class LoggingType(StrEnum):
    REQUEST_HEADERS = "REQUEST_HEADERS"
    REQUEST_BODY = "REQUEST_BODY"
    RESPONSE_HEADERS = "RESPONSE_HEADERS"
    RESPONSE_BODY = "RESPONSE_BODY"


# The deprecated `logLevel` option as the reference maps it to `logs`.
LOGS_OF_LEVEL = {
    LogLevel.TRACE: list(LoggingType),
    LogLevel.DEBUG: [LoggingType.REQUEST_HEADERS, LoggingType.RESPONSE_HEADERS],
    LogLevel.INFO: [LoggingType.RESPONSE_HEADERS],
}


class HttpOptions(Spec):
    timeout: TimeoutOptions | None = None
    auth: Annotated[BasicAuth | BearerAuth, Field(discriminator="type")] | None = None
    follow_redirects: bool = True
    allow_failed: bool = False
    default_charset: str = "UTF-8"
    logs: list[LoggingType] = []
    max_content_length: int | None = Field(default=None, gt=0)
    proxy: ProxyOptions | None = None
    ssl: SslOptions | None = None
    # deprecated spellings the reference still reads
    proxy_type: ProxyType | None = None
    proxy_address: str | None = None
    proxy_port: int | str | None = None
    proxy_username: str | None = None
    proxy_password: str | None = None
    connect_timeout: Duration | None = None
    read_timeout: Duration | None = None
    read_idle_timeout: Duration | None = None
    connection_pool_idle_timeout: Duration | None = None
    basic_auth_user: str | None = None
    basic_auth_password: str | None = None
    log_level: LogLevel | None = None

    def connect_limit(self) -> timedelta | None:
        return (self.timeout.connect_timeout if self.timeout else None) or self.connect_timeout

    def read_limit(self) -> timedelta:
        configured = (self.timeout.read_idle_timeout if self.timeout else None) or self.read_timeout
        return configured or self.read_idle_timeout or DEFAULT_READ_TIMEOUT

    def logged(self) -> set[LoggingType]:
        return set(self.logs) | set(LOGS_OF_LEVEL.get(self.log_level, []) if self.log_level else [])

    def body_limit(self) -> int:
        return self.max_content_length or DEFAULT_MAX_CONTENT_LENGTH

    def proxy_options(self) -> ProxyOptions | None:
        """`proxy`, or the deprecated `proxyType`/`proxyAddress`/`proxyPort`/`proxyUsername`/`proxyPassword`."""
        if self.proxy is not None:
            return self.proxy
        if self.proxy_type is None and self.proxy_address is None:
            return None
        return ProxyOptions(
            type=self.proxy_type or ProxyType.DIRECT,
            address=self.proxy_address,
            port=self.proxy_port,
            username=self.proxy_username,
            password=self.proxy_password,
        )


class HttpTask(RunnableTask):
    """What every HTTP task sends: `method` to `uri` with `body` or `formData`, `headers` and `options`."""

    uri: str = Field(min_length=1)
    method: str = "GET"
    body: str | None = None
    form_data: dict[str, Any] | None = None
    content_type: str = "application/json"
    # numbers are sent as their text (`X-Count: 5` in YAML)
    headers: dict[str, str | int | float] = {}
    options: HttpOptions = HttpOptions()
    # deprecated: `options.allowFailed`, `options.ssl`
    allow_failed: bool | None = None
    ssl_options: SslOptions | None = None

    def failure_allowed(self) -> bool:
        return self.options.allow_failed if self.allow_failed is None else self.allow_failed

    def trusts_all_certificates(self) -> bool:
        ssl = self.options.ssl or self.ssl_options
        return bool(ssl and ssl.insecure_trust_all_certificates)


class Request(HttpTask):
    """Sends `method` to `uri` with `body` or `formData`; outputs `uri`, `code`, `headers` and `body`."""

    type_names = ("io.kestra.plugin.core.http.Request", "io.kestra.plugin.fs.http.Request")


class Download(HttpTask):
    """Sends the request and streams the response's body into the internal storage; outputs `uri` (the
    stored file's `kestra:///…`), `code`, `length` and `headers`. An empty body fails the task unless
    `failOnEmptyResponse: false` (or the failure is allowed). The body is limited by
    `options.maxContentLength` (1 GiB by default for a download)."""

    type_names = ("io.kestra.plugin.core.http.Download", "io.kestra.plugin.fs.http.Download")
    fail_on_empty_response: bool = True

    def body_limit(self) -> int:
        return self.options.max_content_length or DEFAULT_MAX_DOWNLOAD_LENGTH
