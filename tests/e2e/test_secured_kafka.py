"""Secured connections: the services on a Kafka that requires SASL (SCRAM), started here with
`start_kafka(sasl_users=...)`. With the right credentials they connect and run a flow; with wrong ones
they exit at once with a clear message. The password never appears in logs or in `conveyor status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.common.kafka.errors import FatalKafkaError
from conveyor.common.kafka.verify import connect
from conveyor.common.servers.kafka import KafkaServer, start_kafka
from conveyor.common.servers.process import free_port
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.cli import ROOT, run_cli
from tests.e2e.conftest import Stack
from tests.e2e.observed import ready

pytestmark = pytest.mark.e2e
USER, PASSWORD, WRONG = "alice", "Sup3r-secret-pw", "Wr0ng-guess-pw"


@pytest.fixture(scope="module")
def sasl_kafka() -> Iterator[KafkaServer]:
    with start_kafka(sasl_users={USER: PASSWORD}) as server:
        yield server


def sasl_env(server: KafkaServer, password: str, mechanism: str = "SCRAM-SHA-256") -> dict[str, str]:
    assert server.sasl_bootstrap is not None
    return {
        "CONVEYOR_KAFKA_BOOTSTRAP": server.sasl_bootstrap,
        "CONVEYOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CONVEYOR_KAFKA_SASL_MECHANISM": mechanism,
        "CONVEYOR_KAFKA_SASL_USERNAME": USER,
        "CONVEYOR_KAFKA_SASL_PASSWORD": password,
    }


@pytest.fixture(scope="module")
def secured(
    sasl_kafka: KafkaServer,
    elasticsearch_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Stack]:
    prefix = f"e2e-sasl-{uuid.uuid4().hex[:6]}"
    logs = tmp_path_factory.mktemp("sasl-logs")
    env = {
        **os.environ,
        **sasl_env(sasl_kafka, PASSWORD),
        "CONVEYOR_KAFKA_TOPIC_PREFIX": f"{prefix}.",
        "CONVEYOR_KAFKA_PARTITIONS": "2",
        "CONVEYOR_ELASTICSEARCH_URL": elasticsearch_url,
        "CONVEYOR_ELASTICSEARCH_INDEX_PREFIX": prefix,
        "CONVEYOR_HOME": str(logs / "home"),
        "CONVEYOR_LOG_LEVEL": "DEBUG",  # even debug lines must not carry the password
        "COLUMNS": "200",
    }
    kafka = KafkaSettings(bootstrap=sasl_kafka.sasl_bootstrap or "", topic_prefix=f"{prefix}.")
    stack = Stack(env, kafka, ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix), logs)
    yield stack
    for name in list(stack.procs):
        stack.stop(name)
    if request.session.testsfailed:
        sys.stderr.write(stack.tail(60) + "\n")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, *args)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_each_mechanism_connects_with_the_right_password_only(sasl_kafka: KafkaServer, mechanism: str) -> None:
    def settings(password: str) -> KafkaSettings:
        values = {
            k.removeprefix("CONVEYOR_KAFKA_").lower(): v for k, v in sasl_env(sasl_kafka, password, mechanism).items()
        }
        return KafkaSettings(**values)  # type: ignore[arg-type]

    connect(settings(PASSWORD), timeout=30)
    with pytest.raises(FatalKafkaError, match=r"refused the connection: .*SASL authentication error") as error:
        connect(settings(WRONG), timeout=30)
    assert WRONG not in str(error.value)


def test_services_connect_and_run_a_flow_with_the_right_credentials(secured: Stack) -> None:
    created = secured.cli("topics", "create")
    assert created.returncode == 0, created.stderr
    ports = {"executor": free_port(), "worker": free_port()}
    for name, port in ports.items():
        secured.start(name, name, {"CONVEYOR_METRICS_PORT": str(port)})
    assert secured.poll(lambda: all(ready(port) for port in ports.values()), timeout=120), secured.tail()

    execution = secured.run_json(ROOT / "examples" / "hello.yaml")

    assert execution["state"]["current"] == "SUCCESS"
    assert [t["state"]["current"] for t in execution["taskRunList"]] == ["SUCCESS", "SUCCESS"]


@pytest.mark.parametrize("command", [["worker"], ["executor"], ["topics", "create"], ["run", "examples/hello.yaml"]])
def test_wrong_credentials_fail_at_once_with_a_clear_message(secured: Stack, command: list[str]) -> None:
    env = {**secured.env, "CONVEYOR_KAFKA_SASL_PASSWORD": WRONG, "CONVEYOR_KAFKA_TOPICS_TIMEOUT": "0"}
    done = run(env, *command)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "SASL authentication error" in output
    assert f"SASL_PLAINTEXT, SCRAM-SHA-256 as {USER}" in output
    assert "Traceback" not in output
    assert WRONG not in output


def test_the_password_is_never_logged_nor_shown_by_status(secured: Stack) -> None:
    secured.poll(lambda: "executor" in secured.procs and (secured.logs / "executor.log").exists(), timeout=5)
    status = run(secured.env, "status", "--output", "json")
    report = json.loads(status.stdout)
    assert status.returncode in (0, 3)  # Elasticsearch is the shared one; Kafka must answer
    assert report["kafka"]["reachable"] is True
    assert report["kafka"]["saslPassword"] == "**********"
    assert report["kafka"]["saslUsername"] == USER
    table = run(secured.env, "status")
    logs = [path.read_text(errors="replace") for path in Path(secured.logs).glob("*.log")]
    assert logs and any("DEBUG" in text for text in logs)
    for text in (status.stdout, status.stderr, table.stdout, table.stderr, *logs):
        assert PASSWORD not in text
