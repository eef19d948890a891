"""Configuration: one pydantic-settings class per concern, read from `CONVEYOR_*` environment variables.

Secrets are `SecretStr`: they print as `**********` and are never logged. When nothing points at a
server, the local stack started by `conveyor up` (its state file) is used, then the usual local ports.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    """Kafka: where the brokers are, how to reach them (TLS, SASL), and the topics Conveyor creates."""

    # hide_input_in_errors: a validation error must never echo the raw input, which holds the password.
    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_KAFKA_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    bootstrap: str = Field(
        default_factory=_default_bootstrap,
        description="Kafka bootstrap servers (`host:port,...`). Unset: the local stack `conveyor up` started, "
        "else `127.0.0.1:9092`.",
    )
    topic_prefix: str = Field(default="conveyor.", description="Prefix of every topic name.")
    partitions: int = Field(
        default=6,
        ge=1,
        description="Partitions of the topics `conveyor topics create` makes; the executor and worker groups "
        "scale up to this. Pick a multiple of the worker counts you scale between.",
    )
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="Replicas of the topics `conveyor topics create` makes; a topic with fewer is a warning at "
        "start-up. Unset: 3 when the cluster has 3 brokers or more, else 1.",
    )
    min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        description="`min.insync.replicas` of the topics `conveyor topics create` makes: replicas that must "
        "have a write before the producers (`acks=all`, idempotent) see it acknowledged. Unset: 2 with 3 "
        "replicas or more, else 1.",
    )
    fetch_wait_ms: int = Field(
        default=100,
        ge=0,
        description="How long (ms) the broker holds a consumer's fetch when there is nothing new (it answers as "
        "soon as there is): longer means fewer empty fetches from idle consumers, a cost to the broker.",
    )
    linger_ms: float = Field(
        default=0,
        ge=0,
        description="How long (ms) a producer waits to fill a batch before it sends (librdkafka's `linger.ms`): "
        "0 sends at once (what is queued while a request is in flight still goes in one batch); longer means "
        "fewer, larger produce requests, and that much latency on every hop. The executor's transactional "
        "producer keeps 2 ms (its commit sends everything at once anyway).",
    )
    topics_timeout: float = Field(
        default=60.0,
        ge=0,
        description="How long (s) a starting service waits for missing topics (`conveyor topics create` run by "
        "a Job or a one-shot container) before it refuses to start.",
    )
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="How clients reach the brokers (case-insensitive)."
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default=None,
        description="SASL mechanism; required with `SASL_SSL`/`SASL_PLAINTEXT` (`scram_sha_512` is accepted too).",
    )
    sasl_username: str | None = Field(default=None, description="SASL user; required with `SASL_*`.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password; required with `SASL_*`.")
    ssl_ca_location: str | None = Field(
        default=None, description="CA certificate file (PEM) for the brokers' certificates; with `SSL`/`SASL_SSL`."
    )
    ssl_certificate_location: str | None = Field(
        default=None, description="Client certificate file (PEM) for mutual TLS; with `SSL`/`SASL_SSL`."
    )
    ssl_key_location: str | None = Field(
        default=None, description="Client private key file (PEM) for mutual TLS; with `SSL`/`SASL_SSL`."
    )
    ssl_key_password: SecretStr | None = Field(default=None, description="Password of the client private key.")
    ssl_endpoint_identification: bool = Field(
        default=True,
        description="Check that the broker's certificate names the host we connect to (turn off only for testing).",
    )

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
    """Elasticsearch: where the indexer writes and the queries (CLI, API) read."""

    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_ELASTICSEARCH_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    url: str = Field(
        default_factory=_default_es_url,
        description="Elasticsearch URL (`http://` or `https://`); a cluster's nodes comma-separated, the client "
        "going on through the others when one is down. Unset: the local stack `conveyor up` started, "
        "else `http://127.0.0.1:9200`.",
    )
    index_prefix: str = Field(default="conveyor", description="Prefix of every index, template and alias.")
    username: str | None = Field(default=None, description="Basic-auth user (not together with an API key).")
    password: SecretStr | None = Field(default=None, description="Basic-auth password.")
    api_key: SecretStr | None = Field(default=None, description="API key (not together with basic auth).")
    ca_certs: str | None = Field(default=None, description="CA certificate file (PEM) of an `https://` URL.")
    verify_certs: bool = Field(
        default=True,
        description="Check the server's certificate (against `CA_CERTS`, else the system's CAs); off only for testing.",
    )
    request_timeout: float = Field(default=30.0, description="Timeout (s) of one Elasticsearch request.")
    replicas: int | None = Field(
        default=None,
        ge=0,
        description="Replicas of each index the indexer creates. Unset: 1 when the cluster has 2 data nodes or "
        "more (a node lost loses no document), else 0.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ElasticsearchSettings:
        # (basic auth together with an API key is refused where the client is built: `elastic.py`)
        if self.ca_certs and not Path(self.ca_certs).is_file():
            raise ValueError(f"CONVEYOR_ELASTICSEARCH_CA_CERTS: no file at {self.ca_certs}")
        return self


class ExecutorSettings(BaseSettings):
    """The executor service (`conveyor executor`)."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_EXECUTOR_", frozen=True, extra="ignore")

    batch_size: int = Field(default=500, description="Most events the executor consumes and decides in one batch.")
    poll_timeout: float = Field(
        default=0.1, description="Longest wait (s) for events in one poll (never past the next due timer)."
    )
    transactions: bool = Field(
        default=True,
        description="Kafka transactions (exactly-once). Off: at-least-once with duplicate events recognised by id.",
    )
    pipeline: bool = Field(
        default=True,
        description="Decide the next batch while the previous batch's transaction commits (its records are held "
        "until the commit ends and the next transaction begins), so that an event waits for one commit, not a "
        "batch and its commit (at half the one-task peak: p50 47 ms instead of 77, see docs/benchmarks.md). "
        "Off: consume, decide, publish and commit in turn.",
    )
    worker_timeout: float = Field(
        default=15.0,
        gt=0,
        description="A worker whose last heartbeat is older than this (s) is lost: its running attempts of the "
        "executions this executor owns end FAILED and run again as new attempts. Workers beat every 3 s.",
    )
    executor_id: str | None = Field(
        default=None,
        description="A stable id for this executor process, unique among the running ones (`conveyor up` sets "
        "one per supervised executor). Its transactional ids are built from it, so that the same executor "
        "started again after a crash fences its predecessor: the dead one's open transaction is aborted when the "
        "new one starts, not 15 s later (`transaction.timeout.ms`), and read_committed readers of its partitions "
        "go on at once. Two running processes with one id fence each other. Unset: a random id per start.",
    )


# What a task's process inherits from the worker's environment by default.
TASK_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


class WorkerSettings(BaseSettings):
    """The worker service (`conveyor worker`)."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_WORKER_", frozen=True, extra="ignore")

    concurrency: int = Field(default=8, description="Attempts one worker runs at once.")
    worker_id: str | None = Field(
        default=None, description="The worker id recorded on attempts and heartbeats. Unset: `host-pid-random`."
    )
    poll_timeout: float = Field(default=0.1, description="Longest wait (s) for jobs in one poll.")
    drain_seconds: float = Field(
        default=30.0,
        description="How long (s) running attempts may take to finish after SIGTERM before they are handed back.",
    )
    running_report_delay: float = Field(
        default=0.1,
        ge=0,
        description="An attempt still running after this long (s) is reported RUNNING; one that ends sooner is "
        "reported once, with its start date (fewer events for quick tasks). 0 reports every attempt RUNNING as it "
        "starts.",
    )
    task_environment: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(TASK_ENVIRONMENT),
        description="The worker's environment variables a Commands task sees (comma-separated names); nothing "
        "else of the worker's environment (its credentials, `CONVEYOR_*`) reaches a task. The task's own `env` "
        "is added.",
    )
    run_as_user: str | None = Field(
        default=None,
        description="Run Commands tasks as this unprivileged user (name or uid), when the worker runs as root "
        "(a task then fails if the worker is not root). Unset: as the worker's own user.",
    )

    @field_validator("task_environment", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        return [n.strip() for n in value.split(",") if n.strip()] if isinstance(value, str) else value

    @field_validator("run_as_user", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class IndexerSettings(BaseSettings):
    """The indexer service (`conveyor indexer`): how it batches its writes to Elasticsearch."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_INDEXER_", frozen=True, extra="ignore")

    batch_size: int = Field(default=2000, description="Most messages in one Elasticsearch bulk.")
    flush_interval: float = Field(default=0.5, description="Longest time (s) a message waits for its bulk.")


class SchedulerSettings(BaseSettings):
    """The scheduler service (`conveyor scheduler`): Schedule triggers and the other trigger loops."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_SCHEDULER_", frozen=True, extra="ignore")

    poll_timeout: float = Field(
        default=0.2, gt=0, description="Longest wait (s) for control requests in one poll (never past the next slot)."
    )
    flows_refresh: float = Field(
        default=1.0, gt=0, description="How often (s) the scheduler catches up with the `flows` topic."
    )
    batch_size: int = Field(
        default=2000, ge=1, description="Most slots fired (and control requests applied) in one transaction."
    )
    transactions: bool = Field(
        default=True,
        description="Kafka transactions: a slot's state and its execution are written together (exactly-once). "
        "Off: at-least-once, duplicates recognised by the slot's derived execution id.",
    )


class MetricsSettings(BaseSettings):
    """The Prometheus `/metrics` and the `/healthz` `/readyz` endpoint every service can serve."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_METRICS_", frozen=True, extra="ignore")

    port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of `/metrics`, `/healthz` and `/readyz`. Off when unset or empty (several services "
        "share one host locally); the container image sets 9400. 0 picks a free port, logged at start-up.",
    )
    host: str = Field(default="127.0.0.1", description="Address the metrics endpoint listens on.")
    stall_seconds: float = Field(
        default=120.0,
        gt=0,
        description="`/healthz` fails once the service's Kafka loop has not polled for this long (s): a stuck process.",
    )

    @field_validator("port", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class JqSettings(BaseSettings):
    """Limits of the `jq('…')` expression filter, wherever an expression is rendered (executor and workers)."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_JQ_", frozen=True, extra="ignore")

    timeout: float = Field(
        default=1.0,
        gt=0,
        description="Longest time (s) one `jq` filter, or one regular expression of a flow (`replace(…, "
        "regexp=true)`, jq's `test`/`sub`/`gsub`/`splits`), may run; past it the expression, and so its task run, "
        "fails with `… (limit CONVEYOR_JQ_TIMEOUT exceeded)`.",
    )
    max_result: int = Field(
        default=100_000,
        ge=1,
        description="Most values one `jq` filter may produce while it runs (its results and every value "
        "inside them, e.g. `[range(N)]` counts N): a bound on its memory and work.",
    )


class SecretsSettings(BaseSettings):
    """Where `{{ secret('NAME') }}` finds its values (`common/secrets.py`), wherever an expression is rendered
    (workers for tasks, the executor for flowable properties)."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_SECRETS_", frozen=True, extra="ignore")

    backend: Literal["env", "files"] = Field(
        default="env",
        description="`env`: the process's environment variable `SECRET_<NAME>` holds the value in base64 (the "
        "reference's open-source convention); `files`: one file per secret in `CONVEYOR_SECRETS_DIRECTORY` (a "
        "mounted Kubernetes Secret), its content the value.",
    )
    env_prefix: str = Field(default="SECRET_", description="The prefix of the `env` backend's variables.")
    directory: Path | None = Field(
        default=None, description="The folder of the `files` backend (required with it); a file's name is the secret."
    )

    @model_validator(mode="after")
    def _directory_for_files(self) -> SecretsSettings:
        if self.backend == "files" and self.directory is None:
            raise ValueError("CONVEYOR_SECRETS_DIRECTORY is required with CONVEYOR_SECRETS_BACKEND=files")
        return self


class NamespaceAccessSettings(BaseSettings):
    """What a flow may reach outside its own namespace (`common/namespace_access.py`), checked wherever a task or
    an expression reads (workers, and the executor for flowable properties). A flow always reaches its own
    namespace and its parents (`company` from `company.team`); anything else needs a rule here."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_NAMESPACES_", frozen=True, extra="ignore")

    allowed: dict[str, list[str]] = Field(
        default_factory=dict,
        description="A JSON object: a namespace whose KV store and namespace files other namespaces' flows may "
        "use, to the list of those namespaces. `team.*` is `team` and every namespace under it, `*` every "
        'namespace: `{"shared": ["company.*"]}` lets the flows of `company` and below read and write the KV '
        'entries and read the namespace files of `shared`; `{"*": ["*"]}` opens everything (the reference\'s '
        "open-source behaviour).",
    )
    secrets: dict[str, list[str]] = Field(
        default_factory=dict,
        description="A JSON object: a secret's name to the namespaces whose flows may read it with `secret()` "
        '(each with its children, or `team.*`/`*` patterns): `{"PROD_DB_PASSWORD": ["company.prod"]}`. A secret '
        "not named here is every flow's, as the reference's open-source secrets are.",
    )


class ContextSettings(BaseSettings):
    """The `envs` and `globals` variables of every expression (workers and executor)."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_CONTEXT_", frozen=True, extra="ignore")

    env_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="The process's environment variables expressions see as `envs` (comma-separated names; "
        "`NAME_*` takes every variable with that prefix). `envs.<name>` is the name lowercased, without a "
        "leading `ENV_` (the reference's convention: `ENV_MY_VAR` is `envs.my_var`). Nothing else of the "
        "environment is visible.",
    )
    globals: dict[str, Any] = Field(
        default_factory=dict,
        description='A JSON object, the `globals` variable (`{"region": "eu"}` gives `{{ globals.region }}`).',
    )

    @field_validator("env_allowlist", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        return [n.strip() for n in value.split(",") if n.strip()] if isinstance(value, str) else value


class ApiClientSettings(BaseSettings):
    """The CLI's commands that call `conveyor server` (`login`, `tokens`, `status`): where it is, and how to
    authenticate."""

    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_API_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    url: str | None = Field(
        default=None,
        description="The server's address (`https://conveyor.example.com`). Unset: the local stack's server, else "
        "`http://127.0.0.1:8080`.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="An API token the CLI sends as `Authorization: Bearer`. Unset: the token `conveyor login` "
        "stored, else the local stack's admin credential.",
    )
