"""Configuration: one pydantic-settings class per concern, read from `CONVEYOR_*` environment variables.

Secrets are `SecretStr`: they print as `**********` and are never logged. When nothing points at a
server, the local stack started by `conveyor up` (its state file) is used, then the usual local ports.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
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


def _default_bootstrap() -> str:
    return str(local_stack().get("kafkaBootstrap") or "127.0.0.1:9092")


def _default_es_url() -> str:
    return str(local_stack().get("elasticsearchUrl") or "http://127.0.0.1:9200")


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_KAFKA_", frozen=True, extra="ignore")

    bootstrap: str = Field(default_factory=_default_bootstrap)
    topic_prefix: str = "conveyor."
    # Partitions of the topics Conveyor creates; the executor and worker groups scale up to this.
    partitions: int = 6
    replication_factor: int = 1
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None

    def client_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config


class ElasticsearchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_ELASTICSEARCH_", frozen=True, extra="ignore")

    url: str = Field(default_factory=_default_es_url)
    index_prefix: str = "conveyor"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: str | None = None
    request_timeout: float = 30.0


class ExecutorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_EXECUTOR_", frozen=True, extra="ignore")

    batch_size: int = 500
    poll_timeout: float = 0.1
    # Kafka transactions (exactly-once). Off: at-least-once with duplicate events recognised by id.
    transactions: bool = True


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_WORKER_", frozen=True, extra="ignore")

    concurrency: int = 8
    worker_id: str | None = None
    poll_timeout: float = 0.1
    # How long running attempts may take to finish after SIGTERM before they are abandoned.
    drain_seconds: float = 30.0


class IndexerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_INDEXER_", frozen=True, extra="ignore")

    batch_size: int = 2000
    flush_interval: float = 0.5
