"""The API's hardening on the real Kafka and Elasticsearch, over real sockets: the audit trail (records on
the `audit` topic, indexed, read by `GET /api/v1/audit` and `conveyor audit`), idempotent starts (with the
executor, worker and indexer running in threads), security headers, the body limit, CORS, CSRF and TLS.

The server authenticates for real: `alice` is an admin, `bob` a viewer of `harden.test` (Basic authentication,
or bob's page session for the CSRF cases).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conveyor.api.settings import ServerSettings
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import ExecutionCreated
from conveyor.common.ids import derived_id
from conveyor.common.kafka import lookup
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import (
    ElasticsearchSettings,
    ExecutorSettings,
    IndexerSettings,
    KafkaSettings,
    WorkerSettings,
)
from conveyor.executor.service import Executor
from conveyor.indexer import queries
from conveyor.indexer.service import Indexer
from conveyor.worker.service import Worker
from tests.apiserver import ADMIN_HEADERS, PASSWORD, auth_with, basic, serving, user
from tests.cli import run_cli
from tests.integration.inprocess import InThreads, ended

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

T = TypeVar("T")

FLOW = """\
id: greet
namespace: harden.test
inputs:
  - id: name
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }}"
"""
ADMIN = basic("alice")
BOB = basic("bob")
AUTH = auth_with({"alice": user("admin@"), "bob": user("viewer@harden.test")})


@contextmanager
def signed_in(base: str, name: str) -> Iterator[httpx.Client]:
    """A browser-like client holding `name`'s page session (its session and CSRF cookies)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        answer = client.post("/api/v1/auth/login", json={"user": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client


def eventually(
    check: Callable[[], T], timeout: float = 60.0, what: str = "condition", detail: Callable[[], Any] = lambda: ""
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what} {detail()}"
        time.sleep(0.3)


@dataclass
class Stack:
    kafka: KafkaSettings
    es: ElasticsearchSettings
    base: str
    http: httpx.Client


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[Stack]:
    prefix = f"t-harden-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=2)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    indexer = Indexer(kafka, es, IndexerSettings(batch_size=100, flush_interval=0.2), backoff=(0.1, 0.5))
    services = InThreads(
        [
            Executor(kafka, ExecutorSettings(poll_timeout=0.05)),
            Worker(kafka, WorkerSettings(poll_timeout=0.05, concurrency=4)),
            indexer,
        ]
    )
    try:
        assert indexer.ready.wait(60), "the indexer got no partitions"
        client = elasticsearch_client(es)
        client.cluster.health(index=f"{prefix}-*", wait_for_status="yellow", timeout="30s")
        client.close()
        with serving(kafka, es, auth=AUTH) as base, httpx.Client(base_url=base, timeout=30) as http:
            deployed = http.post("/api/v1/flows", content=FLOW, headers={**ADMIN, "content-type": "application/x-yaml"})
            assert deployed.status_code in (200, 201), deployed.text
            yield Stack(kafka, es, base, http)
    finally:
        services.close()
        assert not services.failures, services.failures


def audit_records(stack: Stack, **params: Any) -> list[dict[str, Any]]:
    answer = stack.http.get("/api/v1/audit", params={"since": "PT1H", **params}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    records: list[dict[str, Any]] = answer.json()
    return records


# ---- idempotent start


def test_the_same_idempotency_key_twice_starts_one_execution(stack: Stack) -> None:
    key = f"retry-{uuid.uuid4().hex}"
    path = "/api/v1/executions/harden.test/greet"
    first = stack.http.post(path, json={"name": "Ada"}, headers={**ADMIN, "Idempotency-Key": key})
    assert first.status_code == 200, first.text
    again = stack.http.post(path, json={"name": "Ada"}, headers={**ADMIN, "Idempotency-Key": key})
    assert (again.status_code, again.json()) == (200, first.json())
    execution_id = first.json()["id"]
    assert execution_id == derived_id("execution", "harden.test", "greet", key)
    done = ended(stack.kafka, [execution_id], timeout=90)[execution_id]
    assert done.state.current.value == "SUCCESS" and len(done.task_run_list) == 1

    # Another server (nothing remembered): the answer is rebuilt from the `executions` topic, the same body.
    with serving(stack.kafka, stack.es, auth=AUTH) as other:
        repeat = httpx.post(other + path, json={"name": "Ada"}, headers={**ADMIN, "Idempotency-Key": key})
    assert (repeat.status_code, repeat.json()) == (200, first.json())
    # The same key with other inputs is refused, not silently answered with the first execution.
    other_inputs = stack.http.post(path, json={"name": "Bob"}, headers={**ADMIN, "Idempotency-Key": key})
    assert other_inputs.status_code == 422 and "Idempotency-Key" in other_inputs.text

    # A creation sent again after the end (a retry that never reached a server's memory) starts nothing.
    header = lookup.latest(stack.kafka, Topics.of(stack.kafka).executions, execution_id)
    assert header is not None
    final = Execution.model_validate_json(header.value)
    created = ExecutionCreated.model_validate(
        {"eventId": derived_id("created", execution_id), **_created(first.json())}
    )
    producer = Producer(stack.kafka)
    producer.send(Topics.of(stack.kafka).execution_events, execution_id, created.to_json())
    producer.flush(10)
    time.sleep(3)
    later = lookup.latest(stack.kafka, Topics.of(stack.kafka).executions, execution_id)
    assert later is not None and Execution.model_validate_json(later.value).revision == final.revision

    def starts() -> list[dict[str, Any]]:
        found = audit_records(stack, user="alice")
        return [r for r in found if r["action"] == "start_execution" and r.get("executionId") == execution_id]

    recorded = eventually(lambda: starts() if len(starts()) >= 4 else [], what="the starts' audit records")
    assert len(recorded) == 4 and {r["status"] for r in recorded} == {200, 422}


def _created(body: dict[str, Any]) -> dict[str, Any]:
    return {"executionId": body["id"], "execution": body, "flow": {"id": "greet", "namespace": "harden.test"}}


# ---- audit


def test_mutations_and_refusals_are_audited_without_secrets(stack: Stack) -> None:
    start = stack.http.post("/api/v1/executions/harden.test/greet", json={"name": "Cy"}, headers=ADMIN)
    assert start.status_code == 200, start.text
    execution_id = start.json()["id"]
    unknown = stack.http.post("/api/v1/executions/no-such-execution/kill", headers=ADMIN)
    assert unknown.status_code == 404
    # secrets in the headers and the body never reach the record
    secret = stack.http.post(
        "/api/v1/flows",
        content="id: x\nnamespace: harden.test\npassword: hunter2-body-secret\n",
        headers={**ADMIN, "X-Api-Key": "s3cr3t-header", "content-type": "application/x-yaml"},
    )
    assert secret.status_code == 422
    # a wrong token is refused 401, audited (as what it claimed) and logged, never with the token
    wrong = stack.http.get("/api/v1/flows/harden.test/greet", headers={"Authorization": "Bearer s3cr3t-token"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
    with signed_in(stack.base, "bob") as browser:  # a session without the CSRF header: refused before the route
        refused = browser.post("/api/v1/executions/harden.test/greet", json={"name": "Eve"})
    assert refused.status_code == 403 and "cross-site" in refused.text
    not_admin = stack.http.get("/api/v1/audit", headers=BOB)
    assert not_admin.status_code == 403
    # reads are not audited
    assert stack.http.get("/api/v1/flows/harden.test/greet", headers=ADMIN).status_code == 200

    def complete() -> list[dict[str, Any]]:
        found = audit_records(stack)
        actions = {(r["user"], r["action"], r["status"]) for r in found}
        seen[:] = sorted(actions)
        want = {
            ("alice", "start_execution", 200),
            ("alice", "kill_execution", 404),
            ("alice", "deploy_flow", 422),
            ("bob", "start_execution", 403),
            ("bob", "read_audit", 403),
            ("token:?", "get_flow", 401),  # what the wrong token claimed: not one of ours
        }
        return found if want <= actions else []

    seen: list[tuple[str, str, int]] = []
    found = eventually(complete, what="the audit records", detail=lambda: seen)
    by = {(r["user"], r["action"], r["status"]): r for r in found}
    started = next(r for r in found if r.get("executionId") == execution_id and r["action"] == "start_execution")
    assert started["namespace"] == "harden.test" and started["flowId"] == "greet" and started["result"] == "SUCCESS"
    assert started["client"] == "127.0.0.1" and started["method"] == "POST"
    assert dt.datetime.fromisoformat(started["timestamp"]) > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    kill = by[("alice", "kill_execution", 404)]
    assert (
        kill["executionId"] == "no-such-execution" and kill["result"] == "FAILED" and "no execution" in kill["detail"]
    )
    csrf = by[("bob", "start_execution", 403)]
    assert csrf["result"] == "DENIED" and csrf["flowId"] == "greet" and "cross-site" in csrf["detail"]
    assert by[("bob", "read_audit", 403)]["result"] == "DENIED"
    assert ("alice", "get_flow", 200) not in by
    everything = json.dumps(found)
    assert "s3cr3t" not in everything and "hunter2" not in everything and "conveyor_session" not in everything
    assert PASSWORD not in everything

    assert {r["user"] for r in audit_records(stack, user="bob")} == {"bob"}
    assert {r["result"] for r in audit_records(stack, result="DENIED")} == {"DENIED"}
    assert stack.http.get("/api/v1/audit", params={"since": "yesterday"}, headers=ADMIN).status_code == 400

    env = {
        "PATH": "/usr/bin:/bin",
        "CONVEYOR_ELASTICSEARCH_URL": stack.es.url,
        "CONVEYOR_ELASTICSEARCH_INDEX_PREFIX": stack.es.index_prefix,
        "CONVEYOR_HOME": "/nonexistent",
    }
    cli = run_cli(env, "audit", "--user", "bob", "--since", "P1D", "--output", "json")
    assert cli.returncode == 0, cli.stderr
    rows = json.loads(cli.stdout)
    assert rows and {r["user"] for r in rows} == {"bob"}
    assert {(r["action"], r["result"]) for r in rows} == {
        ("login", "SUCCESS"),
        ("start_execution", "DENIED"),
        ("read_audit", "DENIED"),
    }
    table = run_cli(env, "audit", "--since", "PT1H")
    assert table.returncode == 0 and "kill_execution" in table.stdout, table.stderr
    bad = run_cli(env, "audit", "--since", "last week")
    assert bad.returncode == 2 and "--since" in bad.stderr
    # the raw documents hold nothing more than the API answers
    client = elasticsearch_client(stack.es)
    raw = queries.search_audit(client, stack.es.index_prefix, size=1000)
    client.close()
    assert "s3cr3t" not in json.dumps(raw) and "hunter2" not in json.dumps(raw)


# ---- headers, body limit, CORS, CSRF


def test_every_answer_carries_the_security_headers(stack: Stack) -> None:
    for path in ("/", "/docs", "/static/app.js", "/api/v1/health", "/api/v1/nothing-here", "/openapi.json"):
        answer = stack.http.get(path)
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert "strict-transport-security" not in answer.headers  # plain HTTP here


def test_a_sign_in_with_an_unknown_field_is_refused_422_naming_it(stack: Stack) -> None:
    # The schema allows user, password and next only (schemathesis sent more and got a 400 it did not expect).
    answer = stack.http.post("/api/v1/auth/login", json={"user": "admin", "password": PASSWORD, "role": "admin"})
    assert answer.status_code == 422 and "role" in answer.text, answer.text
    schema = stack.http.get("/openapi.json").json()
    body = schema["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    assert all(media["schema"].get("additionalProperties") is False for media in body.values())
    form = {"user": "admin", "password": PASSWORD, "extra": "x"}
    assert stack.http.post("/api/v1/auth/login", data=form).status_code == 422


def test_a_body_over_the_limit_is_refused_413(stack: Stack) -> None:
    with serving(stack.kafka, stack.es, settings=ServerSettings(max_request_bytes=4096)) as base:
        yaml = {**ADMIN_HEADERS, "content-type": "application/x-yaml"}
        big = httpx.post(base + "/api/v1/flows", content=b"x" * 5000, headers=yaml)
        assert big.status_code == 413 and "4096 bytes" in big.json()["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b"y" * 1000

        chunked = httpx.post(base + "/api/v1/executions/harden.test/greet", content=chunks(), headers=ADMIN_HEADERS)
        assert chunked.status_code == 413
        small = httpx.post(base + "/api/v1/executions/harden.test/greet", json={"name": "ok"}, headers=ADMIN_HEADERS)
        assert small.status_code == 200, small.text


def test_cors_is_closed_by_default_and_opens_to_the_configured_origins(stack: Stack) -> None:
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"}
    closed = stack.http.options("/api/v1/executions/harden.test/greet", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    simple = stack.http.get("/api/v1/health", headers={"Origin": "https://ui.example"})
    assert "access-control-allow-origin" not in simple.headers
    with serving(stack.kafka, stack.es, settings=ServerSettings(cors_origins=["https://ui.example"])) as base:
        opened = httpx.options(base + "/api/v1/executions/harden.test/greet", headers=preflight)
        assert opened.headers["access-control-allow-origin"] == "https://ui.example"
        other = httpx.options(
            base + "/api/v1/executions/harden.test/greet", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_a_session_cookie_needs_the_csrf_token_or_the_same_origin(stack: Stack) -> None:
    path = "/api/v1/executions/harden.test/nothing"  # not deployed: 404 once past the check
    with signed_in(stack.base, "alice") as browser:
        session = dict(browser.cookies)
    assert set(session) == {"conveyor_session", "conveyor_csrf"}
    token = session["conveyor_csrf"]
    cases = [
        ({}, {}, 401),  # no cookie: nothing to forge, and nobody signed in
        (session, {}, 403),
        (session, {"X-CSRF-Token": "wrong"}, 403),
        (session, {"X-CSRF-Token": token}, 404),
        (session, {"Origin": stack.base}, 404),
        (session, {"Origin": "https://evil.example"}, 403),
        # an Authorization header is exempt from the check: it is the one authenticated, and wrong here
        (session, {"Authorization": "Bearer some-token"}, 401),
        (session, {"Authorization": "Basic dTpw"}, 401),
        (session, ADMIN, 404),
    ]
    for cookies, headers, status in cases:
        with httpx.Client(base_url=stack.base, cookies=cookies) as client:
            answer = client.post(path, json={}, headers=headers)
        assert answer.status_code == status, (cookies, headers, answer.text)
    with httpx.Client(base_url=stack.base, cookies=session) as client:
        assert client.get("/api/v1/flows/harden.test/greet").status_code == 200  # safe methods are exempt
        forged = {**session, "conveyor_session": session["conveyor_session"][:-2] + "xx"}
        client.cookies.clear()
        client.cookies.update(forged)
        assert client.get("/api/v1/flows/harden.test/greet").status_code == 401  # a forged session is none


# ---- TLS


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1 and localhost signed by it: (ca, cert, key) files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "conveyor test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def test_the_server_speaks_tls_with_its_certificate(stack: Stack, tmp_path: Path) -> None:
    ca, cert, key = _certificates(tmp_path)
    settings = ServerSettings(tls_certificate=str(cert), tls_key=str(key))
    with serving(stack.kafka, stack.es, settings=settings) as base:
        assert base.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(ca))
        answer = httpx.get(base + "/api/v1/health", verify=trusted)
        assert answer.status_code == 200 and answer.json()["status"] == "UP"
        assert answer.headers["strict-transport-security"].startswith("max-age=")
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the certificate
            httpx.get(base + "/api/v1/health")
        with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port gets no answer
            httpx.get(base.replace("https://", "http://") + "/api/v1/health")
