"""Configuration: one pydantic-settings class per concern, read from `CONVEYOR_*` environment variables.

Secrets are `SecretStr`: they print as `**********` and are never logged. When nothing points at a
server, the local stack started by `conveyor up` (its state file) is used, then the usual local ports.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def conveyor_home() -> Path:
    """Where `conveyor up` keeps its servers' data and its state file."""
    return Path(os.environ.get("CONVEYOR_HOME") or Path.home() / ".conveyor")


@cache
def local_stack() -> dict[str, Any]:
    path = conveyor_home() / "stack.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _default_bootstrap() -> str:
    return str(local_stack().get("kafkaBootstrap") or "127.0.0.1:9092")


def _default_es_url() -> str:
    return str(local_stack().get("elasticsearchUrl") or "http://127.0.0.1:9200")


class KafkaSettings(BaseSettings):
    # hide_input_in_errors: a validation error must never echo the raw input, which holds the password.
    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_KAFKA_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    bootstrap: str = Field(default_factory=_default_bootstrap)
    topic_prefix: str = "conveyor."
    # Partitions of the topics Conveyor creates; the executor and worker groups scale up to this.
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # How long the broker holds a consumer's fetch when there is nothing new (it answers as soon as there
    # is): longer means fewer empty fetches from idle consumers, a cost to the broker.
    fetch_wait_ms: int = Field(default=100, ge=0)
    # How long a starting service waits for `conveyor topics create` (run by a Job or a one-shot container).
    topics_timeout: float = Field(default=60.0, ge=0)
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    # Check that the broker's certificate names the host we connect to (turn off only for testing).
    ssl_endpoint_identification: bool = True

    @field_validator("security_protocol", mode="before")
    @classmethod
    def _protocol_upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("sasl_mechanism", mode="before")
    @classmethod
    def _mechanism_upper(cls, value: object) -> object:
        # `scram_sha_512` (KEDA's spelling) and `SCRAM-SHA-512` (Kafka's) both mean SCRAM-SHA-512
        return (value.strip().upper().replace("_", "-") or None) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        check_kafka_security(self)
        return self

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol.endswith("SSL")

    def describe(self) -> str:
        """`broker:9093 (SASL_SSL, SCRAM-SHA-512 as alice)`: where and how we connect, safe to log."""
        how = f"{self.security_protocol}, {self.sasl_mechanism} as {self.sasl_username}"
        return f"{self.bootstrap} ({how if self.uses_sasl else self.security_protocol})"

    def client_config(self) -> dict[str, Any]:
        """librdkafka's configuration, secrets included: hand it to a client, never to a log line."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
        }
        if self.uses_sasl:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.sasl_password.get_secret_value() if self.sasl_password else ""
        if self.uses_ssl:
            optional = {
                "ssl.ca.location": self.ssl_ca_location,
                "ssl.certificate.location": self.ssl_certificate_location,
                "ssl.key.location": self.ssl_key_location,
                "ssl.key.password": self.ssl_key_password.get_secret_value() if self.ssl_key_password else None,
            }
            config.update({key: value for key, value in optional.items() if value})
            config["ssl.endpoint.identification.algorithm"] = "https" if self.ssl_endpoint_identification else "none"
        return config


def check_kafka_security(settings: KafkaSettings) -> None:
    """Reject combinations librdkafka would accept and then fail on at connection time, or silently ignore."""
    env = "CONVEYOR_KAFKA_"
    protocol = settings.security_protocol
    sasl = [settings.sasl_mechanism, settings.sasl_username, settings.sasl_password]
    if settings.uses_sasl:
        if settings.sasl_mechanism is None:
            raise ValueError(f"{env}SASL_MECHANISM must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with {protocol}")
        if not settings.sasl_username or not settings.sasl_password:
            raise ValueError(f"{env}SASL_USERNAME and {env}SASL_PASSWORD are required with {protocol}")
    elif any(sasl):
        raise ValueError(
            f"SASL settings are set but {env}SECURITY_PROTOCOL is {protocol}: use SASL_SSL or SASL_PLAINTEXT"
        )
    files = {
        "SSL_CA_LOCATION": settings.ssl_ca_location,
        "SSL_CERTIFICATE_LOCATION": settings.ssl_certificate_location,
        "SSL_KEY_LOCATION": settings.ssl_key_location,
    }
    if not settings.uses_ssl and (any(files.values()) or settings.ssl_key_password):
        raise ValueError(f"SSL settings are set but {env}SECURITY_PROTOCOL is {protocol}: use SSL or SASL_SSL")
    for name, path in files.items():
        if path and not Path(path).is_file():
            raise ValueError(f"{env}{name}: no file at {path}")


class ElasticsearchSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_ELASTICSEARCH_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    url: str = Field(default_factory=_default_es_url)
    index_prefix: str = "conveyor"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: str | None = None
    # Check the server's certificate (against `ca_certs`, else the system's CAs); off only for testing.
    verify_certs: bool = True
    request_timeout: float = 30.0

    @model_validator(mode="after")
    def _consistent(self) -> ElasticsearchSettings:
        # (basic auth together with an API key is refused where the client is built: `elastic.py`)
        if self.ca_certs and not Path(self.ca_certs).is_file():
            raise ValueError(f"CONVEYOR_ELASTICSEARCH_CA_CERTS: no file at {self.ca_certs}")
        return self


class ExecutorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_EXECUTOR_", frozen=True, extra="ignore")

    batch_size: int = 500
    poll_timeout: float = 0.1
    # Kafka transactions (exactly-once). Off: at-least-once with duplicate events recognised by id.
    transactions: bool = True
    # A worker whose last heartbeat is older than this (seconds) is lost: its running attempts of the
    # executions this executor owns end FAILED and run again as new attempts. Workers beat every 3 s.
    worker_timeout: float = Field(default=15.0, gt=0)


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_WORKER_", frozen=True, extra="ignore")

    concurrency: int = 8
    worker_id: str | None = None
    poll_timeout: float = 0.1
    # How long running attempts may take to finish after SIGTERM before they are abandoned.
    drain_seconds: float = 30.0
    # An attempt still running after this long is reported RUNNING; one that ends sooner is reported once,
    # with its start date (fewer events for quick tasks). 0 reports every attempt RUNNING as it starts.
    running_report_delay: float = Field(default=0.1, ge=0)


class IndexerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_INDEXER_", frozen=True, extra="ignore")

    batch_size: int = 2000
    flush_interval: float = 0.5


class MetricsSettings(BaseSettings):
    """The Prometheus `/metrics` and the `/healthz` `/readyz` endpoint every service can serve."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_METRICS_", frozen=True, extra="ignore")

    # Off when unset (several services share one host locally); the container image sets 9400.
    # 0 picks a free port, logged at start-up.
    port: int | None = Field(default=None, ge=0, le=65535)
    host: str = "127.0.0.1"
    # /healthz fails once the service's Kafka loop has not polled for this long (a stuck process).
    stall_seconds: float = Field(default=120.0, gt=0)

    @field_validator("port", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
