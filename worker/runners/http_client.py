"""The httpx client of an HTTP task: its timeouts, redirects, proxy (`options.proxy`) and TLS trust
(`options.ssl.insecureTrustAllCertificates`), as the reference's HTTP client configuration has them.

- `proxy.type: HTTP` sends every request through the HTTP proxy at `address:port` (plain requests in absolute
  form, HTTPS ones through a CONNECT tunnel); `DIRECT` (the default) through none. `username`/`password`
  authenticate to the proxy (`Proxy-Authorization`); they are rendered (a `secret()` stays masked) and never
  logged. `SOCKS` is refused with a clear error (httpx needs the `socksio` package for it, not installed).
- `insecureTrustAllCertificates: true` accepts any server certificate and host name (a self-signed test
  server); otherwise the system's trusted CAs and the host name are checked.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx

from conveyor.common.errors import ConveyorError
from conveyor.common.tasks.http import HttpTask, ProxyOptions, ProxyType
from conveyor.worker.runners.base import RunContext


class ProxyError(ConveyorError):
    """`options.proxy` cannot be used as written (names the property)."""


def client(task: HttpTask, ctx: RunContext) -> httpx.Client:
    options = task.options
    connect = options.connect_limit()
    timeout = httpx.Timeout(
        None, connect=connect.total_seconds() if connect else None, read=options.read_limit().total_seconds()
    )
    verify = trust_all_context() if task.trusts_all_certificates() else tls_context()
    proxy = proxy_of(options.proxy_options(), ctx)
    # Without a proxy of its own, the worker's HTTP(S)_PROXY variables apply (httpx's `trust_env`).
    return httpx.Client(timeout=timeout, follow_redirects=options.follow_redirects, verify=verify, proxy=proxy)


def proxy_of(options: ProxyOptions | None, ctx: RunContext) -> httpx.Proxy | None:
    if options is None or options.type is ProxyType.DIRECT:
        return None
    if options.type is ProxyType.SOCKS:
        raise ProxyError("options.proxy.type: SOCKS proxies are not supported here (HTTP proxies are)")
    address = str(ctx.render(options.address or "")).strip()
    if not address:
        raise ProxyError(f"options.proxy.address: required with type {options.type.value}")
    port_text = str(ctx.render(options.port)) if options.port is not None else ""
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ProxyError(f"options.proxy.port: {port_text or 'none'} is not a port (1 to 65535)")
    host = f"[{address}]" if ":" in address else address
    url = f"http://{host}:{int(port_text)}"
    if options.username is None:
        return httpx.Proxy(url)
    username = str(ctx.render(options.username))
    password = str(ctx.render(options.password)) if options.password is not None else ""
    return httpx.Proxy(url, auth=(username, password))


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context (the system's trusted CAs, via httpx) for every request: building one per client
    loads the CA bundle each time (~150 ms per request on a 2-core box, ~0.2 ms shared)."""
    return httpx.create_ssl_context()


@cache
def trust_all_context() -> ssl.SSLContext:
    """`insecureTrustAllCertificates`: no certificate or host name check."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
