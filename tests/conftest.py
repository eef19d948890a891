"""Shared fixtures. The real servers come from `tests.servers` (the one module that chooses them);
every test gets its own topic prefix and index prefix so tests never see each other's data."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.cluster_servers import es_cluster, kafka_cluster  # noqa: F401
from tests.servers import elasticsearch_url, kafka_bootstrap  # noqa: F401


def _unique(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:30]
    return f"t-{name}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, request: pytest.FixtureRequest) -> Iterator[KafkaSettings]:  # noqa: F811
    """Kafka settings with a fresh topic prefix; every Conveyor topic is created (2 partitions)."""
    settings = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{_unique(request)}.", partitions=2)
    ensure_topics(settings)
    yield settings


@pytest.fixture
def es_settings(elasticsearch_url: str, request: pytest.FixtureRequest) -> ElasticsearchSettings:  # noqa: F811
    """Elasticsearch settings with a fresh index prefix."""
    return ElasticsearchSettings(url=elasticsearch_url, index_prefix=_unique(request))
