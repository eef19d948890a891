"""The endpoint every service serves for Prometheus and for Kubernetes probes.

    GET /metrics   Prometheus text format (`conveyor.common.metrics`)
    GET /healthz   liveness: 200 unless the service's Kafka loop has not polled for `stall_seconds`
    GET /readyz    readiness: 200 once the service has polled Kafka successfully (its loop is running) and
                   nothing it depends on refuses its work (`readiness.py`: e.g. Elasticsearch refusing
                   the indexer's writes); 503 otherwise, with the reasons in `notReadyBecause`

`serve_observability(service)` starts it on `CONVEYOR_METRICS_HOST:CONVEYOR_METRICS_PORT` in a daemon
thread; with no port configured it only names the service in the metrics. Before the first poll a
service is alive (it may be waiting for Elasticsearch or for its topics: restarting would not help) but
not ready. A service without a Kafka loop (`conveyor server`) is marked ready at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from conveyor.common import metrics, readiness
from conveyor.common.errors import UsageError
from conveyor.common.settings import MetricsSettings

log = logging.getLogger(__name__)


class Health:
    """Liveness and readiness from the time of the service's last Kafka poll."""

    def __init__(self, stall_seconds: float, polls: bool = True) -> None:
        self.stall_seconds = stall_seconds
        self._polls = polls

    def report(self) -> dict[str, Any]:
        last = metrics.last_poll()
        age = time.monotonic() - last if last else None
        ready = not self._polls or last > 0
        alive = age is None or age <= self.stall_seconds
        because = readiness.reasons()
        return {
            "service": metrics.service(),
            "alive": alive,
            "ready": ready and alive and not because,
            "secondsSinceLastPoll": None if age is None else round(age, 3),
            "notReadyBecause": because,
        }


class ObservabilityServer:
    def __init__(self, settings: MetricsSettings, health: Health) -> None:
        self.health = health
        self._http = ThreadingHTTPServer((settings.host, settings.port or 0), _handler(health))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, name="conveyor-metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> ObservabilityServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def serve_observability(
    service: str, settings: MetricsSettings | None = None, *, polls: bool = True
) -> ObservabilityServer | None:
    """Name this process's service in the metrics and, when a port is configured, serve the endpoint.
    Raises `UsageError` (a `ValueError`, with the address) when the port cannot be bound: an operator asked
    for it."""
    settings = settings or MetricsSettings()
    metrics.set_service(service)
    if settings.port is None:
        return None
    try:
        server = ObservabilityServer(settings, Health(settings.stall_seconds, polls)).start()
    except OSError as exc:
        raise UsageError(f"cannot serve metrics on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
    log.info("%s metrics on http://%s:%d/metrics (health: /healthz, /readyz)", service, settings.host, server.port)
    return server


def _handler(health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.REGISTRY))
            elif path in ("/healthz", "/readyz"):
                report = health.report()
                ok = report["alive"] if path == "/healthz" else report["ready"]
                self._send(200 if ok else 503, "application/json", json.dumps(report).encode())
            else:
                self._send(404, "text/plain", b"not found: try /metrics, /healthz or /readyz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: not worth a line
            log.debug("metrics endpoint: " + format, *args)

    return Handler
