"""Least-privilege ACLs (`common/kafka/acls.py`) on a real broker with KRaft's `StandardAuthorizer`.

This module starts its own broker (a SASL listener with one SCRAM user per principal of `ACCESS`, plus a
super user `admin`; `start_kafka(super_users=...)`), the one test module allowed to: the shared test broker
has no authorizer. Each test gets a topic prefix of its own, the ACLs of `bindings(prefix)` applied by the
admin, and the topics created by the topics Job's own user. Then every principal does its work and is
refused the rest (writes, transactions, groups, start-up checks; `conveyor worker` and `conveyor executor` as
processes), the CLI prints and applies the ACLs, and flows run to SUCCESS, and into Elasticsearch, with the
server, the executor, the worker, the indexer and the CLI each under its own user.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from pydantic import SecretStr

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.acl_admin import apply_acls, existing_acls
from conveyor.common.kafka.acls import ACCESS, Acl, bindings, topic_specs
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.errors import FatalKafkaError, KafkaError
from conveyor.common.kafka.executions import ExecutionReader
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import SPECS, Topics
from conveyor.common.kafka.verify import verify_topics
from conveyor.common.servers.kafka import KafkaServer, start_kafka
from conveyor.common.settings import (
    ElasticsearchSettings,
    ExecutorSettings,
    IndexerSettings,
    KafkaSettings,
    WorkerSettings,
)
from conveyor.common.state import StateType
from conveyor.executor.service import Executor
from conveyor.indexer import queries
from conveyor.indexer.service import Indexer
from conveyor.worker.service import Worker
from tests import apiserver
from tests.cli import ROOT, run_cli
from tests.integration.inprocess import InThreads, submit

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

T = TypeVar("T")
ADMIN = "admin"
PASSWORDS = {name: f"{name}-Pw-{uuid.uuid4().hex[:10]}" for name in [ADMIN, *ACCESS]}
SERVICES = [name for name, access in ACCESS.items() if access.reads or access.writes]


@pytest.fixture(scope="module")
def broker() -> Iterator[KafkaServer]:
    with start_kafka(sasl_users=PASSWORDS, super_users=[ADMIN]) as server:
        yield server


def sasl_env(broker: KafkaServer, user: str) -> dict[str, str]:
    return {
        "CONVEYOR_KAFKA_BOOTSTRAP": broker.sasl_bootstrap or "",
        "CONVEYOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CONVEYOR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "CONVEYOR_KAFKA_SASL_USERNAME": user,
        "CONVEYOR_KAFKA_SASL_PASSWORD": PASSWORDS[user],
    }


@dataclass
class Secured:
    broker: KafkaServer
    prefix: str

    def user(self, name: str) -> KafkaSettings:
        return KafkaSettings(
            bootstrap=self.broker.sasl_bootstrap or "",
            topic_prefix=self.prefix,
            partitions=2,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-256",
            sasl_username=name,
            sasl_password=SecretStr(PASSWORDS[name]),
            topics_timeout=0,
        )

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)


def wait_until_enforced(admin: KafkaSettings, wanted: set[Acl], timeout: float = 30.0) -> None:
    """The broker answers DescribeAcls from its authorizer: once it lists them, it enforces them."""
    deadline = time.monotonic() + timeout
    while not wanted <= existing_acls(admin) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert wanted <= existing_acls(admin), sorted(wanted - existing_acls(admin))


def secure(broker: KafkaServer) -> Secured:
    """A fresh prefix: its ACLs applied by the admin, its topics created by the topics Job's user."""
    secured = Secured(broker, f"acl-{uuid.uuid4().hex[:8]}.")
    admin = secured.user(ADMIN)
    acls = bindings(secured.prefix)
    apply_acls(admin, acls)
    wait_until_enforced(admin, set(acls))
    assert len(ensure_topics(secured.user("topics"))) == len(SPECS)
    return secured


@pytest.fixture(scope="module")
def secured(broker: KafkaServer) -> Secured:
    return secure(broker)


def write_error(settings: KafkaSettings, topic: str) -> str | None:
    """The error code of producing one record to `topic` as `settings`' user; None when it was written."""
    producer = Producer(settings)
    try:
        producer.send(topic, b"acl-test", b"{}")
        producer.flush(30)
    except KafkaError as exc:
        return exc.code or str(exc)
    return None


def read_all(settings: KafkaSettings, group: str, topics: list[str], timeout: float = 60.0) -> set[str]:
    """The topics of `topics` that gave a record to a consumer of `group`, read from their start."""
    consumer = Consumer(settings, group, topics)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while seen != set(topics) and time.monotonic() < deadline:
            seen.update(msg.topic for msg in consumer.consume(100, 0.5))
    finally:
        consumer.close()
    return seen


def group_of(prefix: str, service: str) -> str:
    """A group name the service's first group ACL covers (a prefixed one gets a random suffix)."""
    acl = next(a for a in bindings(prefix, services=[service]) if a.resource == "GROUP")
    return acl.name + uuid.uuid4().hex[:8] if acl.pattern == "PREFIXED" else acl.name


@pytest.mark.parametrize(
    ("service", "topic"),
    [
        ("worker", "flows"),
        ("worker", "executor-state"),
        ("worker", "executions"),
        ("server", "executor-state"),
        ("server", "worker-jobs"),
        ("indexer", "executions"),
        ("cli", "worker-jobs"),
        ("executor", "flows"),
    ],
)
def test_a_service_is_refused_writing_what_is_not_its_own(secured: Secured, service: str, topic: str) -> None:
    assert write_error(secured.user(service), secured.topics.name(topic)) == "TOPIC_AUTHORIZATION_FAILED"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_writes_and_reads_its_own_topics(secured: Secured, service: str) -> None:
    access, settings = ACCESS[service], secured.user(service)
    for topic in access.writes:
        assert write_error(settings, secured.topics.name(topic)) is None, topic
    admin = Producer(secured.user(ADMIN))
    reads = [secured.topics.name(topic) for topic in access.reads]
    for topic in reads:
        admin.send(topic, b"acl-test", b"{}")
    admin.flush()
    assert read_all(settings, group_of(secured.prefix, service), reads) == set(reads)
    # its start-up check sees its own topics, and only those
    verify_topics(settings, topic_specs(service), timeout=0)
    others = [spec for spec in SPECS if spec not in topic_specs(service)]
    with pytest.raises(FatalKafkaError, match="not authorized to describe it") as refused:
        verify_topics(settings, SPECS, timeout=0)
    assert str(refused.value).count("not authorized") == len(others)


def test_the_executor_commits_transactions_and_the_worker_may_not(secured: Secured) -> None:
    executor = Producer(secured.user("executor"), transactional_id=f"{secured.prefix}executor-{uuid.uuid4().hex}")
    executor.begin()
    executor.send(secured.topics.executor_state, b"acl-test", b"{}")
    executor.commit()
    with pytest.raises(KafkaError) as refused:
        Producer(secured.user("worker"), transactional_id=f"{secured.prefix}executor-{uuid.uuid4().hex}")
    assert refused.value.code == "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"


def test_a_service_may_not_join_another_services_group(secured: Secured) -> None:
    admin = Producer(secured.user(ADMIN))
    admin.send(secured.topics.worker_jobs, b"acl-test", b"{}")
    admin.flush()
    # the worker reads worker-jobs, but only in its own group: not as the executor's group
    with pytest.raises(KafkaError) as refused:
        read_all(secured.user("worker"), f"{secured.prefix}executor", [secured.topics.worker_jobs], timeout=30)
    assert refused.value.code == "GROUP_AUTHORIZATION_FAILED"


def test_the_cli_prints_the_acls_and_applies_them_as_the_admin(broker: KafkaServer) -> None:
    prefix = f"acl-cli-{uuid.uuid4().hex[:8]}."
    env = {**os.environ, **sasl_env(broker, ADMIN), "CONVEYOR_KAFKA_TOPIC_PREFIX": prefix, "COLUMNS": "250"}
    done = run_cli(env, "kafka", "acls", "--apply", "--service", "worker", "--output", "json")
    assert done.returncode == 0, done.stderr
    wanted = bindings(prefix, services=["worker"])
    rows = json.loads(done.stdout)
    assert f"applied {len(bindings(prefix, services=['worker']))} ACLs on 127.0.0.1:" in done.stderr
    assert [(r["principal"], r["resourceName"], r["operation"]) for r in rows] == [
        (a.principal, a.name, a.operation) for a in wanted
    ]
    admin = Secured(broker, prefix).user(ADMIN)
    wait_until_enforced(admin, set(wanted))

    table = run_cli(env, "kafka", "acls", "--principal-prefix", "User:conveyor-")
    assert table.returncode == 0, table.stderr
    assert f"User:conveyor-worker --operation Read --group {prefix}worker" in table.stdout
    assert "kafka-acls.sh" in table.stdout and "PASSWORD" not in table.stdout

    refused = run_cli({**env, **sasl_env(broker, "worker")}, "kafka", "acls", "--apply")
    assert refused.returncode == 3 and "refused" in refused.stderr, refused.stderr
    assert PASSWORDS["worker"] not in refused.stderr + refused.stdout

    unknown = run_cli(env, "kafka", "acls", "--service", "nobody")
    assert unknown.returncode == 2 and "--service: unknown services nobody" in unknown.stderr


def test_each_service_process_starts_under_its_own_user_and_no_other(secured: Secured, tmp_path: Path) -> None:
    """`conveyor worker` as the worker's user checks its own topics, joins its group and stops on SIGTERM;
    `conveyor executor` as the worker's user exits 3 naming the topics it may not see."""
    env = {
        **os.environ,
        **sasl_env(secured.broker, "worker"),
        "CONVEYOR_KAFKA_TOPIC_PREFIX": secured.prefix,
        "CONVEYOR_KAFKA_TOPICS_TIMEOUT": "0",
    }
    wrong = run_cli(env, "executor")
    assert wrong.returncode == 3, wrong.stderr
    assert f"{secured.prefix}executor-state: not authorized to describe it" in wrong.stderr
    assert "Traceback" not in wrong.stderr and PASSWORDS["worker"] not in wrong.stderr

    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen([sys.executable, "-m", "conveyor.cli.main", "worker"], env=env, stderr=out, cwd=ROOT)
    try:
        started = eventually(log.read_text, lambda text: "started: group" in text or worker.poll() is not None)
        assert f"started: group {secured.prefix}worker" in started, started
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    text = log.read_text()
    assert code == 0, text
    assert "AUTHORIZATION_FAILED" not in text and PASSWORDS["worker"] not in text


FLOW = """\
id: acl
namespace: conveyor.tests
tasks:
  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.2S}
  - {id: done, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.id }}"}
"""


def start_through_the_api(base: str) -> tuple[str, httpx.Client]:
    """The server (as its own user) deploys the flow and starts an execution of it; returns the id."""
    http = httpx.Client(base_url=base, timeout=30, auth=apiserver.ADMIN_AUTH)
    deployed = http.post("/api/v1/flows", content=FLOW, headers={"content-type": "application/x-yaml"})
    assert deployed.status_code == 201, deployed.text
    started = http.post("/api/v1/executions/conveyor.tests/acl", json={})
    assert started.status_code == 200, started.text
    return str(started.json()["id"]), http


def eventually(check: Callable[[], T], done: Callable[[T], bool], timeout: float = 60.0) -> T:
    """`check()` until `done` says its value is final, or what it is at `timeout`."""
    deadline = time.monotonic() + timeout
    value = check()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = check()
    return value


def indexed(es: ElasticsearchSettings, ids: list[str]) -> tuple[dict[str, str | None], int]:
    """What Elasticsearch holds (via the indexer's user): each execution's state, and how many audit records."""
    client = elasticsearch_client(es)
    try:

        def states() -> dict[str, str | None]:
            documents = {i: queries.get_execution(client, es.index_prefix, i) for i in ids}
            return {i: d["state"]["current"] if d else None for i, d in documents.items()}

        found = eventually(states, lambda s: all(v == "SUCCESS" for v in s.values()))
        audit = eventually(lambda: len(queries.search_audit(client, es.index_prefix)), lambda n: n >= 3)
    finally:
        client.close()
    return found, audit


def test_flows_run_to_success_with_each_service_as_its_own_user(
    broker: KafkaServer, es_settings: ElasticsearchSettings, tmp_path: Path
) -> None:
    secured = secure(broker)
    indexer = Indexer(secured.user("indexer"), es_settings, IndexerSettings(batch_size=100, flush_interval=0.2))
    services = InThreads(
        [
            Executor(secured.user("executor"), ExecutorSettings(poll_timeout=0.05)),
            Worker(secured.user("worker"), WorkerSettings(poll_timeout=0.05, drain_seconds=5.0)),
            indexer,
        ]
    )
    cli = secured.user("cli")
    reader = ExecutionReader(cli)
    try:
        assert indexer.ready.wait(60), "the indexer got no partitions"
        with apiserver.serving(secured.user("server"), es_settings) as base:
            through_api, http = start_through_the_api(base)
            [through_cli] = submit(cli, 1)  # as `conveyor run` does, as the CLI's user
            ended = reader.ended([through_api, through_cli], 120)
            assert {i: e.state.current for i, e in ended.items()} == {
                through_api: StateType.SUCCESS,
                through_cli: StateType.SUCCESS,
            }
            assert [tr.state.current for tr in ended[through_api].task_run_list] == [StateType.SUCCESS] * 2
            # the server looks the ended execution up on `executions` and `taskruns`: a kill is refused
            killed = http.post(f"/api/v1/executions/{through_api}/kill")
            assert killed.status_code == 409, killed.text
            http.close()
        # `conveyor run` as a process, as the CLI's user: submits, follows, prints the ended execution
        flow = tmp_path / "acl.yaml"
        flow.write_text(FLOW)
        env = {**os.environ, **sasl_env(broker, "cli"), "CONVEYOR_KAFKA_TOPIC_PREFIX": secured.prefix}
        ran = run_cli(env, "run", str(flow), "--output", "json")
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout)["state"]["current"] == "SUCCESS"
        # the executions, and the server's audit of the deploy, the start and the refused kill
        states, audit = indexed(es_settings, [through_api, through_cli])
        assert states == {through_api: "SUCCESS", through_cli: "SUCCESS"} and audit == 3
    finally:
        reader.close()
        services.close()
    assert not services.stuck
    assert not services.failures, services.failures
