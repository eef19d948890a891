"""The least-privilege ACLs derived from `ACCESS` (`common/kafka/acls.py`): what each principal may and may not
do, the kafka-acls.sh commands, the CLI, and docs/operations.md holding the table they make. On a broker with
an authorizer: tests/integration/test_kafka_acls.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.cli.kafka_acls import commands, markdown_table
from conveyor.cli.main import main
from conveyor.common.kafka import names
from conveyor.common.kafka.acls import ACCESS, Acl, bindings, topic_specs
from conveyor.common.kafka.topics import DEAD_LETTER, SPECS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
P = "conveyor."


def allowed(service: str, resource: str, name: str, operation: str) -> bool:
    return any(
        a.resource == resource
        and a.operation == operation
        and (a.name == name if a.pattern == "LITERAL" else name.startswith(a.name))
        for a in bindings(P, services=[service])
    )


@pytest.mark.parametrize(
    ("service", "topic"),
    [
        ("worker", "flows"),
        ("worker", "executor-state"),
        ("worker", "executions"),
        ("worker", "taskruns"),
        ("worker", "worker-jobs"),
        ("server", "executor-state"),
        ("server", "worker-jobs"),
        ("server", "kills"),
        ("indexer", "executions"),
        ("indexer", "flows"),
        ("cli", "executor-state"),
        ("cli", "worker-jobs"),
        ("executor", "flows"),
        ("executor", "audit"),
    ],
)
def test_a_service_may_not_write_what_is_not_its_own(service: str, topic: str) -> None:
    assert not allowed(service, "TOPIC", P + topic, "WRITE")


def test_each_service_may_do_its_work() -> None:
    assert allowed("worker", "TOPIC", P + "execution-events", "WRITE")
    assert allowed("worker", "TOPIC", P + "worker-jobs", "READ")
    assert allowed("worker", "GROUP", P + "worker", "READ")
    assert allowed("worker", "GROUP", P + "tail-0123abcd", "READ")  # its kills reader
    assert allowed("executor", "TRANSACTIONAL_ID", P + "executor-0123abcd", "WRITE")
    assert allowed("executor", "TOPIC", P + "executor-state", "WRITE")
    assert allowed("server", "TOPIC", P + "flows", "WRITE")
    assert allowed("server", "TOPIC", P + "audit", "WRITE")
    assert allowed("indexer", "TOPIC", P + "audit", "READ")
    assert allowed("cli", "GROUP", "conveyor-follow-0123abcd", "READ")
    assert allowed("topics", "TOPIC", P + "anything", "CREATE")
    # only the executor holds transactional ids; nobody but the topics Job creates topics
    assert not allowed("worker", "TRANSACTIONAL_ID", P + "executor-0123abcd", "WRITE")
    assert not any(allowed(s, "TOPIC", P + "flows", "CREATE") for s in ACCESS if s != "topics")


def test_no_principal_gets_more_than_least_privilege() -> None:
    operations = {a.operation for a in bindings(P)}
    assert operations <= {"READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS", "CREATE", "IDEMPOTENT_WRITE"}
    assert all(
        a.pattern == "LITERAL"
        for a in bindings(P)
        if a.resource == "TOPIC" and a.operation != "CREATE" and a.principal != "User:topics"
    )


def test_every_topic_has_a_writer_and_every_topic_but_dead_letters_a_reader() -> None:
    names = {spec.name for spec in SPECS}
    assert names <= {t for access in ACCESS.values() for t in access.writes}
    assert names - {DEAD_LETTER} <= {t for access in ACCESS.values() for t in access.reads}


def test_a_service_checks_at_start_only_the_topics_it_uses() -> None:
    assert {s.name for s in topic_specs("worker")} == {
        "worker-jobs",
        "kills",
        "execution-events",
        "logs",
        "metrics",
        "worker-heartbeats",
        "dead-letter",
        "kv",
        # a Subflow's restart of its failed child: the child read back, its restart sent
        "executions",
        "taskruns",
        "execution-control",
    }
    assert {"executions", "taskruns"}.isdisjoint(ACCESS["worker"].writes)
    # The executor reads deployed flows (the children of Subflow and ForEachItem) and the KV store (`kv()` in
    # flowable properties), never writes them.
    assert {"flows", "flow-revisions", "kv"} <= {s.name for s in topic_specs("executor")}
    assert "flows" not in ACCESS["executor"].writes and "kv" not in ACCESS["executor"].writes


def test_principals_topics_and_unknown_services() -> None:
    assert {a.principal for a in bindings(P, "User:conveyor-")} == {f"User:conveyor-{s}" for s in ACCESS}
    assert {a.name for a in bindings("team-a.", services=["worker"]) if a.resource == "TOPIC"} == {
        f"team-a.{s.name}" for s in topic_specs("worker")
    }
    # without a topic prefix the topics Job may create any topic (Kafka has no empty prefixed ACL)
    assert Acl("User:topics", "TOPIC", "*", "LITERAL", "CREATE") in bindings("", services=["topics"])
    with pytest.raises(ValueError, match="unknown services nobody"):
        bindings(P, services=["nobody"])


def test_kafka_acls_sh_commands_group_the_operations_of_one_resource() -> None:
    lines = commands(bindings(P, services=["executor"]), "broker:9093")
    base = "kafka-acls.sh --bootstrap-server broker:9093 --command-config admin.properties --add"
    assert f"{base} --allow-principal User:executor --operation IdempotentWrite --cluster" in lines
    assert (
        f"{base} --allow-principal User:executor --operation Describe --operation Write "
        "--transactional-id conveyor.executor- --resource-pattern-type prefixed"
    ) in lines
    assert (
        f"{base} --allow-principal User:executor --operation Describe --operation DescribeConfigs --operation Read "
        "--operation Write --topic conveyor.executor-state"
    ) in lines
    assert len(lines) == len({(a.resource, a.name) for a in bindings(P, services=["executor"])})


def test_the_cli_prints_json_and_refuses_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--topic-prefix", "x.", "kafka", "acls", "--service", "worker", "-o", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(bindings("x.", services=["worker"])) and rows[0]["permission"] == "ALLOW"
    assert {r["principal"] for r in rows} == {"User:worker"}
    assert main(["kafka", "acls", "--service", "nobody"]) == 2
    assert "--service: unknown services nobody" in capsys.readouterr().err
    assert main(["kafka", "acls", "--principal-prefix", " "]) == 2
    assert "--principal-prefix" in capsys.readouterr().err


def test_the_operations_page_holds_the_table() -> None:
    assert markdown_table() in PAGE.read_text(), "docs/operations.md: paste `conveyor kafka acls -o markdown`"


def test_client_ids_are_built_from_the_names_the_acls_allow() -> None:
    assert names.EXECUTOR.id("p.") == "p.executor" and names.LOOKUP.id("p.") == "conveyor-lookup"
    assert names.TAIL.id("p.", "abc") == "p.tail-abc" and names.FOLLOW.id("p.", "abc") == "conveyor-follow-abc"
    assert names.EXECUTOR_TRANSACTIONS.id("p.", "abc") == "p.executor-abc"
    with pytest.raises(ValueError, match="prefixed name takes a suffix"):
        names.TAIL.id("p.")
    with pytest.raises(ValueError, match="literal one none"):
        names.WORKER.id("p.", "abc")


def test_the_test_brokers_authorizer_has_the_anonymous_side_and_the_named_users_as_super_users() -> None:
    from conveyor.common.servers.kafka import AUTHORIZER, _authorizer_properties

    settings = _authorizer_properties(["admin"], {"admin": "pw", "worker": "pw"})
    assert settings["authorizer.class.name"] == AUTHORIZER
    assert settings["super.users"] == "User:ANONYMOUS;User:admin"
    assert settings["allow.everyone.if.no.acl.found"] == "false"
    with pytest.raises(ValueError, match="super users root are not among the SASL users"):
        _authorizer_properties(["root"], {"admin": "pw"})
