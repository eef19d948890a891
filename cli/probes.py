"""Whether the servers answer: the Conveyor server's health endpoint, Kafka, Elasticsearch. Each probe is quick
(a few seconds at most) and says why not in words safe to print (never a secret)."""

from __future__ import annotations

from conveyor.common.settings import ElasticsearchSettings, KafkaSettings


def server_ok(url: str) -> bool:
    """The server answers its health endpoint (200, or 503 while Elasticsearch is away)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/api/v1/health", timeout=3) as answer:
            return bool(answer.status == 200)
    except urllib.error.HTTPError as exc:
        return exc.code == 503
    except (OSError, ValueError):
        return False


def kafka_error(settings: KafkaSettings) -> str | None:
    """None when Kafka answers with these settings' credentials, else why not."""
    from conveyor.common.kafka.errors import KafkaError
    from conveyor.common.kafka.verify import connect

    try:
        connect(settings, timeout=3)
        return None
    except KafkaError as exc:
        return str(exc)


def elasticsearch_error(settings: ElasticsearchSettings) -> str | None:
    """None when the cluster answers green or yellow, else why not."""
    from conveyor.common.elastic import elasticsearch_client

    try:
        # cluster health, not ping(): the integration-test distribution answers 405 on `HEAD /`
        health = elasticsearch_client(settings).options(max_retries=0).cluster.health(timeout="3s")["status"]
    except Exception as exc:
        status = f" {exc.status_code}" if hasattr(exc, "status_code") else ""
        # the transport's reason (`… Connection refused`, a certificate refused), not only its class name
        reason = getattr(exc, "message", None)
        return f"{type(exc).__name__}{status}" + (f": {reason}" if isinstance(reason, str) and reason else "")
    return None if health in ("green", "yellow") else f"cluster health {health}"


def elasticsearch_write_block(settings: ElasticsearchSettings) -> str | None:
    """None when Elasticsearch takes writes to Conveyor's indices (or cannot be asked), else which block
    refuses them."""
    from conveyor.common.elastic import elasticsearch_client
    from conveyor.common.elastic_blocks import write_blocks

    try:
        return write_blocks(elasticsearch_client(settings).options(max_retries=0), settings.index_prefix)
    except Exception:
        return None
