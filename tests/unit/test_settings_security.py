"""Secured connections: Kafka SASL/SSL and Elasticsearch HTTPS settings, validated up front, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from conveyor.common.elastic import describe, elasticsearch_client
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

PASSWORD = "hunter2-do-not-log"


def sasl(**overrides: object) -> KafkaSettings:
    values: dict[str, object] = {
        "bootstrap": "broker:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "alice",
        "sasl_password": PASSWORD,
    }
    return KafkaSettings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "scram_sha_256", "scram-sha-512"])
@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT", "sasl_ssl"])
def test_sasl_settings_become_librdkafka_configuration(protocol: str, mechanism: str) -> None:
    settings = sasl(security_protocol=protocol, sasl_mechanism=mechanism)
    config = settings.client_config()
    assert config["security.protocol"] == protocol.upper()
    assert config["sasl.mechanism"] == mechanism.upper().replace("_", "-")
    assert (config["sasl.username"], config["sasl.password"]) == ("alice", PASSWORD)


def test_ssl_settings_with_a_ca_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config = KafkaSettings(security_protocol="SSL", ssl_ca_location=str(ca)).client_config()
    assert config["ssl.ca.location"] == str(ca)
    assert config["ssl.endpoint.identification.algorithm"] == "https"
    assert "sasl.password" not in config
    config = sasl(ssl_ca_location=str(ca)).client_config()
    assert config["ssl.ca.location"] == str(ca)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"sasl_mechanism": None}, "SASL_MECHANISM must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
        ({"sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
        ({"sasl_password": None}, "SASL_USERNAME and CONVEYOR_KAFKA_SASL_PASSWORD are required"),
        ({"security_protocol": "PLAINTEXT"}, "SASL settings are set but CONVEYOR_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
        ({"security_protocol": "TLS"}, "security_protocol"),
        ({"ssl_ca_location": "/nonexistent/ca.crt"}, "SSL_CA_LOCATION: no file at /nonexistent/ca.crt"),
        ({"security_protocol": "SASL_PLAINTEXT", "ssl_ca_location": "/x"}, "SSL settings are set but"),
    ],
)
def test_inconsistent_kafka_security_is_refused_without_echoing_the_password(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as error:
        sasl(**overrides)
    assert message in str(error.value)
    assert PASSWORD not in str(error.value)


def test_kafka_secrets_never_print() -> None:
    settings = sasl(ssl_key_password="key-" + PASSWORD)
    for text in (str(settings), repr(settings), settings.describe(), settings.model_dump_json()):
        assert PASSWORD not in text
    assert settings.describe() == "broker:9093 (SASL_SSL, SCRAM-SHA-512 as alice)"


def test_empty_secret_values_mean_unused(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the Kubernetes Secret of deploy/k8s gives the pods before an operator fills it
    for name in ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD"):
        monkeypatch.setenv(f"CONVEYOR_{name}", "")
    monkeypatch.setenv("CONVEYOR_ELASTICSEARCH_API_KEY", "")
    assert "sasl.username" not in KafkaSettings(bootstrap="b:9092").client_config()
    assert describe(ElasticsearchSettings(url="http://es:9200")) == "http://es:9200 (no auth)"


def test_elasticsearch_over_https_with_a_ca_and_an_api_key(tmp_path: Path) -> None:
    ca = tmp_path / "es-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = ElasticsearchSettings(url="https://es:9200", api_key=PASSWORD, ca_certs=str(ca))
    client = elasticsearch_client(settings)
    node = client.transport.node_pool.get()
    assert node.config.scheme == "https"
    assert node.config.ca_certs == str(ca)
    assert client._headers["authorization"] == f"ApiKey {PASSWORD}"
    assert describe(settings) == "https://es:9200 (API key)"
    assert PASSWORD not in str(settings)


def test_elasticsearch_basic_auth_and_urls_with_credentials_are_described_without_the_password() -> None:
    settings = ElasticsearchSettings(url="https://es:9200", username="elastic", password=PASSWORD)
    assert elasticsearch_client(settings)._headers["authorization"].startswith("Basic ")
    assert describe(settings) == "https://es:9200 (basic auth as elastic)"
    in_url = ElasticsearchSettings(url=f"https://elastic:{PASSWORD}@es:9200")
    assert describe(in_url) == "https://es:9200 (basic auth as elastic)"


def test_elasticsearch_needs_an_existing_ca_file_and_one_kind_of_auth() -> None:
    with pytest.raises(ValidationError, match=r"CA_CERTS: no file at /nonexistent/ca\.crt"):
        ElasticsearchSettings(url="https://es:9200", ca_certs="/nonexistent/ca.crt")
    both = ElasticsearchSettings(url="https://es:9200", api_key=PASSWORD, username="elastic", password=PASSWORD)
    with pytest.raises(ValueError, match="not both") as error:
        elasticsearch_client(both)
    assert PASSWORD not in str(error.value)
