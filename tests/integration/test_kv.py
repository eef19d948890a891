"""The KV store on the real Kafka: the API (`/api/v1/namespaces/{ns}/kv`) with its role checks and 4xx
answers, and `conveyor kv` as users run it; what one writes the other reads (one compacted `kv` topic)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.apiserver import ADMIN_AUTH, PASSWORD, auth_with, serving, user
from tests.cli import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

NS = "kv.team"


class Env:
    def __init__(self, base: str, kafka: KafkaSettings) -> None:
        self.base = base
        self.kafka = kafka
        self.admin = httpx.Client(base_url=base, timeout=30, auth=ADMIN_AUTH)
        self.viewer = httpx.Client(base_url=base, timeout=30, auth=("vera", PASSWORD))
        self.runner = httpx.Client(base_url=base, timeout=30, auth=("rob", PASSWORD))

    def cli(self, *args: str) -> tuple[int, str, str]:
        env = {
            **os.environ,
            "CONVEYOR_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "CONVEYOR_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
        }
        done = run_cli(env, "kv", *args, timeout=90)
        return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def env(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[Env]:
    prefix = f"t-kv-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=1)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    users = {"vera": user(f"viewer@{NS}"), "rob": user(f"runner@{NS}")}
    with serving(kafka, es, auth=auth_with(users)) as base:
        clients = Env(base, kafka)
        yield clients
        for client in (clients.admin, clients.viewer, clients.runner):
            client.close()


def test_set_get_list_delete_through_the_api_with_types(env: Env) -> None:
    url = f"/api/v1/namespaces/{NS}/kv"
    assert env.runner.put(f"{url}/count", json={"value": 42}).status_code == 200
    assert env.runner.put(f"{url}/conf", json={"value": {"a": [1, 2]}, "description": "d"}).status_code == 200
    put = env.runner.put(f"{url}/when", json={"value": "2026-12-02", "type": "DATE"})
    assert put.status_code == 200 and put.json()["type"] == "DATE"

    got = env.viewer.get(f"{url}/count")
    assert got.status_code == 200 and (got.json()["value"], got.json()["type"]) == (42, "NUMBER")
    assert env.viewer.get(f"{url}/conf").json()["value"] == {"a": [1, 2]}
    listed = env.viewer.get(url)
    assert [(e["key"], e["type"]) for e in listed.json()] == [("conf", "JSON"), ("count", "NUMBER"), ("when", "DATE")]
    assert all("value" not in e for e in listed.json())

    assert env.runner.delete(f"{url}/count").status_code == 204
    assert env.viewer.get(f"{url}/count").status_code == 404
    assert env.runner.delete(f"{url}/count").status_code == 404


def test_roles_viewer_reads_runner_writes_others_nothing(env: Env) -> None:
    url = f"/api/v1/namespaces/{NS}/kv/k1"
    refused = env.viewer.put(url, json={"value": "x"})
    assert refused.status_code == 403 and "runner role" in refused.text
    assert env.viewer.delete(url).status_code == 403
    assert env.runner.get("/api/v1/namespaces/other.ns/kv").status_code == 403
    with httpx.Client(base_url=env.base, timeout=30) as anonymous:
        assert anonymous.get(url).status_code == 401


def test_bad_input_is_a_4xx_naming_the_field(env: Env) -> None:
    url = f"/api/v1/namespaces/{NS}/kv"
    bad_type = env.runner.put(f"{url}/n", json={"value": "abc", "type": "NUMBER"})
    assert bad_type.status_code == 422 and "value" in bad_type.json()["message"]
    assert env.runner.put(f"{url}/bad%20key", json={"value": 1}).status_code == 422
    assert env.runner.put(f"{url}/n", json={"value": 1, "ttl": "soon"}).status_code == 422
    assert env.runner.put(f"{url}/once", json={"value": 1}).status_code == 200
    again = env.runner.put(f"{url}/once", json={"value": 2, "overwrite": False})
    assert again.status_code == 409 and "already exists" in again.text
    assert env.viewer.get(f"{url}/once").json()["value"] == 1


def test_the_cli_and_the_api_share_the_store(env: Env) -> None:
    code, out, err = env.cli("set", NS, "from-cli", '{"x": 1}')
    assert code == 0, err
    assert env.viewer.get(f"/api/v1/namespaces/{NS}/kv/from-cli").json()["value"] == {"x": 1}

    assert env.runner.put(f"/api/v1/namespaces/{NS}/kv/from-api", json={"value": "hello"}).status_code == 200
    code, out, err = env.cli("get", NS, "from-api")
    assert (code, out.strip()) == (0, "hello"), err
    code, out, _ = env.cli("list", NS, "-o", "json")
    assert code == 0 and "from-cli" in [e["key"] for e in json.loads(out)]
    code, _, err = env.cli("set", NS, "n", "abc", "--type", "NUMBER")
    assert code == 2 and "value" in err and "Traceback" not in err
    code, _, err = env.cli("set", NS, "bad key!", "1")
    assert code == 2 and "key" in err
    assert env.cli("delete", NS, "from-cli")[0] == 0
    assert env.cli("get", NS, "from-cli")[0] == 1
