"""`GET /api/v1/health`: whether the server's backends answer.

200 with `UP` when Elasticsearch and Kafka both answer, 200 with `DEGRADED` when only Kafka does not
(searching still works; deploying and starting executions do not), 503 with `DOWN` when Elasticsearch
does not answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from conveyor.api.backends import Backends, backends
from conveyor.common.elastic import describe

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get(
    "/health",
    summary="Whether Elasticsearch and Kafka answer",
    responses={
        200: {"description": "UP, or DEGRADED when Kafka does not answer"},
        503: {"description": "DOWN: Elasticsearch does not answer (the same body)"},
    },
)
def health(api: Annotated[Backends, Depends(backends)]) -> JSONResponse:
    es_up = _es_up(api)
    kafka_up = _kafka_up(api)
    status = "UP" if es_up and kafka_up else ("DEGRADED" if es_up else "DOWN")
    body: dict[str, Any] = {
        "status": status,
        "elasticsearch": {"status": "UP" if es_up else "DOWN", "url": describe(api.es), "indexPrefix": api.prefix},
        "kafka": {"status": "UP" if kafka_up else "DOWN", "topicPrefix": api.kafka.topic_prefix},
    }
    return JSONResponse(body, status_code=200 if es_up else 503)


def _es_up(api: Backends) -> bool:
    try:
        answer = api.client.options(request_timeout=3, max_retries=0).cluster.health(timeout="2s")
        return str(answer["status"]) in ("green", "yellow")
    except Exception:
        return False


def _kafka_up(api: Backends) -> bool:
    from conveyor.common.kafka.admin import admin_client

    try:
        admin_client(api.kafka).list_topics(timeout=2)
        return True
    except Exception:
        return False
