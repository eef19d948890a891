"""`conveyor server`: the HTTP API and the Task Runs page, served by uvicorn until SIGINT/SIGTERM."""

from __future__ import annotations

import logging

import uvicorn

from conveyor.api.app import create_app
from conveyor.api.settings import ServerSettings
from conveyor.common.elastic import describe
from conveyor.common.logsetup import configure_logging
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

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
    # uvicorn installs its own SIGINT/SIGTERM handlers: a first signal drains, a second exits.
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    return 0
