"""The Elasticsearch client factory (`conveyor.common.elastic`): auth from settings, secrets never shown."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from conveyor.common.elastic import describe, elasticsearch_client
from conveyor.common.settings import ElasticsearchSettings


def auth_header(settings: ElasticsearchSettings) -> str | None:
    client = elasticsearch_client(settings)
    try:
        return client._headers.get("authorization")
    finally:
        client.close()


def test_basic_auth() -> None:
    settings = ElasticsearchSettings(url="http://es:9200", username="elastic", password=SecretStr("s3cret"))
    assert auth_header(settings) == "Basic " + base64.b64encode(b"elastic:s3cret").decode()
    assert describe(settings) == "http://es:9200 (basic auth as elastic)"


def test_api_key() -> None:
    settings = ElasticsearchSettings(url="https://es:9243", api_key=SecretStr("a2V5OnZhbHVl"))
    assert auth_header(settings) == "ApiKey a2V5OnZhbHVl"
    assert describe(settings) == "https://es:9243 (API key)"


def test_no_auth_and_no_secret_in_the_description() -> None:
    settings = ElasticsearchSettings(url="http://user:hunter2@es:9200/")
    assert auth_header(ElasticsearchSettings(url="http://es:9200")) is None
    assert "hunter2" not in describe(settings)
    assert "hunter2" not in repr(ElasticsearchSettings(url="http://es", password=SecretStr("hunter2")))


def test_basic_auth_and_api_key_together_are_refused() -> None:
    settings = ElasticsearchSettings(username="u", password=SecretStr("p"), api_key=SecretStr("k"))
    with pytest.raises(ValueError, match="not both"):
        elasticsearch_client(settings)
