"""The CLI's side of authentication against a real server (real Kafka and Elasticsearch): `auth
hash-password`, `login` (password or token, stored 0600), `tokens create|list|revoke`, `CONVEYOR_API_TOKEN`,
`status` saying who you are, `logout` (revoked and forgotten), and errors without a traceback."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.apiserver import PASSWORD, auth_with, serving, user
from tests.cli import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def server(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[tuple[str, KafkaSettings, ElasticsearchSettings]]:
    prefix = f"t-cliauth-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=1)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    with serving(kafka, es, auth=auth_with({"dev": user("developer@team.a")})) as base:
        yield base, kafka, es


def env_for(base: str, kafka: KafkaSettings, es: ElasticsearchSettings, home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CONVEYOR_API_URL": base,
        "CONVEYOR_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "CONVEYOR_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "CONVEYOR_ELASTICSEARCH_URL": es.url,
        "CONVEYOR_ELASTICSEARCH_INDEX_PREFIX": es.index_prefix,
        "CONVEYOR_HOME": str(home / "conveyor-home"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "HOME": str(home),
        **extra,
    }


def test_hash_password_prints_an_argon2_hash() -> None:
    done = run_cli({"PATH": os.environ.get("PATH", "")}, "auth", "hash-password", "--password-stdin", stdin="pw-1\n")
    assert done.returncode == 0, done.stderr
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2id$") and PasswordHasher().verify(hashed, "pw-1") and "pw-1" not in done.stdout


def test_login_tokens_status_logout(server: tuple[str, KafkaSettings, ElasticsearchSettings], tmp_path: Path) -> None:
    base, kafka, es = server
    env = env_for(base, kafka, es, tmp_path)
    before = run_cli(env, "tokens", "list")
    assert before.returncode == 1 and "401" in before.stderr and "Traceback" not in before.stderr

    wrong = run_cli(env, "login", "--user", "dev", "--password-stdin", stdin="nope\n")
    assert wrong.returncode == 1 and "wrong user or password" in wrong.stderr
    login = run_cli(env, "login", "--user", "dev", "--password-stdin", stdin=PASSWORD + "\n")
    assert login.returncode == 0, login.stderr
    stored = tmp_path / "config" / "conveyor" / "credentials.json"
    assert stored.stat().st_mode & 0o777 == 0o600 and str(stored) in login.stderr
    assert PASSWORD not in stored.read_text()

    status = run_cli(env, "status", "--output", "json")
    assert json.loads(status.stdout)["server"]["identity"]["name"] == "dev", status.stdout
    table = run_cli(env, "status")
    assert "you are" in table.stdout and "developer@team.a" in table.stdout

    made = run_cli(env, "tokens", "create", "ci", "--role", "viewer@team.a", "--days", "3", "--output", "json")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)
    assert token["bindings"] == [{"role": "viewer", "namespace": "team.a"}] and token["token"].startswith("cvy_")
    beyond = run_cli(env, "tokens", "create", "x", "--role", "admin@*")
    assert beyond.returncode == 1 and "403" in beyond.stderr
    bad = run_cli(env, "tokens", "create", "x", "--role", "root@x")
    assert bad.returncode == 2 and "--role" in bad.stderr

    # CONVEYOR_API_TOKEN wins over the stored login
    as_token = env_for(base, kafka, es, tmp_path, CONVEYOR_API_TOKEN=token["token"])
    me = run_cli(as_token, "status", "--output", "json")
    assert json.loads(me.stdout)["server"]["identity"]["bindings"] == [{"role": "viewer", "namespace": "team.a"}]
    listed = run_cli(env, "tokens", "list", "--output", "json")
    assert token["id"] in listed.stdout and token["token"] not in listed.stdout
    assert run_cli(env, "tokens", "revoke", token["id"]).returncode == 0
    assert httpx.get(base + "/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"}).status_code == 401

    login_token = json.loads(stored.read_text())["tokens"][base]
    logout = run_cli(env, "logout")
    assert logout.returncode == 0 and "revoked" in logout.stderr
    assert json.loads(stored.read_text())["tokens"] == {}
    assert httpx.get(base + "/api/v1/me", headers={"Authorization": f"Bearer {login_token}"}).status_code == 401

    # a token given to `login` is checked, then stored
    again = run_cli(as_token, "login", "--token", "cvy_bogus_token")
    assert again.returncode == 1 and "401" in again.stderr
    away = env_for("http://127.0.0.1:9", kafka, es, tmp_path)
    assert run_cli(away, "tokens", "list").returncode == 3
