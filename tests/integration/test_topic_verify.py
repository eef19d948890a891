"""Topic administration on the real broker: `conveyor topics create|describe` and the start-up check."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid

import pytest
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

from conveyor.cli.topics import topics
from conveyor.common.kafka.admin import admin_client, ensure_topics
from conveyor.common.kafka.errors import FatalKafkaError
from conveyor.common.kafka.topics import SPECS, Topics
from conveyor.common.kafka.verify import inspect_topics, verify_topics
from conveyor.common.settings import KafkaSettings
from tests.cli import run_cli

pytestmark = pytest.mark.integration


def fresh(kafka_bootstrap: str, **overrides: object) -> KafkaSettings:
    prefix = f"t-verify-{uuid.uuid4().hex[:8]}."
    values: dict[str, object] = {"bootstrap": kafka_bootstrap, "topic_prefix": prefix, "partitions": 2, **overrides}
    return KafkaSettings(**values)  # type: ignore[arg-type]


def create(settings: KafkaSettings, name: str, partitions: int, cleanup: str) -> None:
    topic = NewTopic(
        Topics.of(settings).name(name),
        num_partitions=partitions,
        replication_factor=1,
        config={"cleanup.policy": cleanup},
    )
    admin = admin_client(settings)  # kept alive until the futures resolve
    for future in admin.create_topics([topic]).values():
        future.result(timeout=30)


def test_created_topics_follow_design_and_pass_the_check(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = fresh(kafka_bootstrap, partitions=3)
    assert topics("create", settings, "json") == 0
    rows = {row["topic"].removeprefix(settings.topic_prefix): row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {spec.name for spec in SPECS}
    for spec in SPECS:
        row = rows[spec.name]
        assert row["cleanupPolicy"] == ("compact" if spec.compact else "delete")
        assert row["partitions"] == (1 if spec.single_partition else 3)
        assert row["replicationFactor"] == 1
        assert row["problems"] == []
    verify_topics(settings, timeout=0)
    assert ensure_topics(settings) == []  # a second run creates nothing


def test_missing_topics_are_named_with_the_fix(kafka_bootstrap: str) -> None:
    settings = fresh(kafka_bootstrap)
    with pytest.raises(FatalKafkaError) as error:
        verify_topics(settings, timeout=0)
    message = str(error.value)
    assert f"{settings.topic_prefix}executor-state: missing: run `conveyor topics create`" in message
    assert message.count("missing") == len(SPECS)


def test_a_starting_service_waits_for_the_topics_job(kafka_bootstrap: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = fresh(kafka_bootstrap)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            verify_topics(settings, timeout=120)
        except BaseException as exc:
            errors.append(exc)

    caplog.set_level(logging.INFO, logger="conveyor.common.kafka.verify")
    thread = threading.Thread(target=start)
    thread.start()
    for _ in range(300):
        if "waiting up to 120s for topics" in caplog.text:
            break
        thread.join(0.1)
    assert "waiting up to 120s for topics" in caplog.text
    ensure_topics(settings)  # what the topics Job does meanwhile
    thread.join(60)
    assert not thread.is_alive() and errors == []


def test_wrong_cleanup_policies_and_partitions_are_refused(kafka_bootstrap: str) -> None:
    settings = fresh(kafka_bootstrap)
    create(settings, "executor-state", 3, "delete")  # would lose the executor's state
    create(settings, "execution-events", 2, "compact")  # would lose events sharing an execution id
    ensure_topics(settings)  # the others, right; the existing two are left as they are
    settings = settings.model_copy(update={"replication_factor": 3})  # what the services are told to expect

    reports = {r.spec.name: r for r in inspect_topics(settings)}
    assert reports["executor-state"].problems == [
        "cleanup.policy is delete, must be compact",
        f"3 partitions but {settings.topic_prefix}execution-events has 2: they must be equal",
    ]
    assert reports["execution-events"].problems == ["cleanup.policy is compact, must be delete"]
    assert reports["executions"].problems == []
    assert reports["executions"].warnings == ["replication factor 1 is below the configured 3"]
    with pytest.raises(FatalKafkaError, match=r"cleanup\.policy is compact, must be delete"):
        verify_topics(settings, timeout=0)
    assert topics("describe", settings) == 1


def test_a_service_on_wrong_topics_exits_with_a_clear_message(kafka_bootstrap: str) -> None:
    settings = fresh(kafka_bootstrap)
    create(settings, "executor-state", 2, "delete")
    ensure_topics(settings)
    env = {
        **os.environ,
        "CONVEYOR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CONVEYOR_KAFKA_TOPIC_PREFIX": settings.topic_prefix,
        "CONVEYOR_KAFKA_TOPICS_TIMEOUT": "0",
    }
    done = run_cli(env, "executor")
    assert done.returncode == 3
    assert f"{settings.topic_prefix}executor-state: cleanup.policy is delete, must be compact" in done.stderr
    assert "Traceback" not in done.stderr
