"""How the CLI shows settings that hold secrets: every secret as `**********` when set, None when not, so a
report says whether a password is configured and never what it is."""

from __future__ import annotations

from typing import Any

from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

SECRET = "**********"


def masked(secret: object) -> str | None:
    return SECRET if secret else None


def kafka_security(kafka: KafkaSettings) -> dict[str, Any]:
    """How the clients authenticate to Kafka, secrets masked."""
    return {
        "securityProtocol": kafka.security_protocol,
        "saslMechanism": kafka.sasl_mechanism,
        "saslUsername": kafka.sasl_username,
        "saslPassword": masked(kafka.sasl_password),
        "sslCaLocation": kafka.ssl_ca_location,
        "sslKeyPassword": masked(kafka.ssl_key_password),
    }


def elasticsearch_security(es: ElasticsearchSettings) -> dict[str, Any]:
    """How the clients authenticate to Elasticsearch, secrets masked."""
    return {
        "username": es.username,
        "password": masked(es.password),
        "apiKey": masked(es.api_key),
        "caCerts": es.ca_certs,
    }
