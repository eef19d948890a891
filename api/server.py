"""`conveyor server`: the HTTP API and the Task Runs page, served by uvicorn until SIGINT/SIGTERM (or SIGHUP,
the signal that its parent ended)."""

from __future__ import annotations

import logging
import signal
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from conveyor.api.app import create_app
from conveyor.api.settings import ServerSettings
from conveyor.common.elastic import describe
from conveyor.common.logsetup import configure_logging
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.shutdown import PARENT_DEATH_SIGNAL

log = logging.getLogger(__name__)


def serve(settings: ServerSettings, kafka: KafkaSettings, es: ElasticsearchSettings) -> int:
    configure_logging(service="server")
    app = create_app(kafka, es, settings)
    log.info(
        "conveyor server on %s (API docs at %s/docs); Elasticsearch %s, index prefix %s; Kafka %s, topics %s*",
        settings.url,
        settings.url,
        describe(es),
        es.index_prefix,
        kafka.bootstrap,
        kafka.topic_prefix,
    )
    server = uvicorn.Server(uvicorn_config(app, settings))
    # uvicorn installs its own SIGINT/SIGTERM handlers: a first signal drains, a second exits. The parent-death
    # signal (repeated once per thread of the dead parent) only drains.
    signal.signal(PARENT_DEATH_SIGNAL, lambda _signum, _frame: setattr(server, "should_exit", True))
    server.run()
    return 0


def uvicorn_config(app: ASGIApp, settings: ServerSettings, **overrides: Any) -> uvicorn.Config:
    """How uvicorn serves the app: address, and TLS when a certificate and key are set."""
    tls: dict[str, Any] = {}
    if settings.tls:
        tls = {"ssl_certfile": settings.tls_certificate, "ssl_keyfile": settings.tls_key}
        if settings.tls_key_password is not None:
            tls["ssl_keyfile_password"] = settings.tls_key_password.get_secret_value()
    options: dict[str, Any] = {"log_config": None, "access_log": False, **tls, **overrides}
    return uvicorn.Config(app, host=settings.host, port=settings.port, **options)
