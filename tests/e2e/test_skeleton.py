"""The walking skeleton through the CLI: a flow runs through executor, worker and indexer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.message import Message
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from tests.cli import ROOT
from tests.e2e.conftest import Stack
from tests.messages import headers_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_taskrun_flow_renders_the_reference_keys_and_is_searchable(e2e_stack: Stack) -> None:
    execution = e2e_stack.run_json(ROOT / "examples" / "taskrun.yaml")
    assert execution["state"]["current"] == "SUCCESS", e2e_stack.tail()
    (run,) = execution["taskRunList"]
    rendered = json.loads(run["outputs"]["value"])
    assert set(rendered) == {"id", "startDate", "attemptsCount"}
    assert rendered["id"] == run["id"] and rendered["attemptsCount"] == 0
    assert [a["state"]["current"] for a in run["attempts"]] == ["SUCCESS"]
    assert run["attempts"][0]["workerId"] == "worker-1"

    def found() -> list[dict[str, Any]]:
        done = e2e_stack.cli("taskruns", "--namespace", "conveyor.examples", "--flow", "taskrun", "--output", "json")
        assert done.returncode == 0, done.stderr
        return [r for r in json.loads(done.stdout) if r["id"] == run["id"] and r["state"]["current"] == "SUCCESS"]

    (doc,) = e2e_stack.poll(found)
    assert doc["executionId"] == execution["id"] and doc["taskId"] == "return" and doc["attemptsCount"] == 1

    def execution_found() -> list[dict[str, Any]]:
        done = e2e_stack.cli("executions", "--flow", "taskrun", "--state", "SUCCESS", "--output", "json")
        return [e for e in json.loads(done.stdout) if e["id"] == execution["id"]]

    assert e2e_stack.poll(execution_found)


def test_run_prints_task_runs_and_exit_codes_follow_the_state(e2e_stack: Stack, tmp_path: Path) -> None:
    done = e2e_stack.cli("run", str(ROOT / "examples" / "hello.yaml"))
    assert done.returncode == 0, done.stderr + e2e_stack.tail()
    assert "greet" in done.stdout and "say" in done.stdout and "SUCCESS" in done.stdout
    failing = tmp_path / "fail.yaml"
    failing.write_text(
        "id: fail\nnamespace: conveyor.tests\ntasks:\n"
        "  - {id: boom, type: io.kestra.plugin.core.execution.Fail, errorMessage: no luck}\n"
    )
    done = e2e_stack.cli("run", str(failing), "--output", "json")
    assert done.returncode == 1
    execution = json.loads(done.stdout)
    assert execution["state"]["current"] == "FAILED"
    assert execution["taskRunList"][0]["attempts"][0]["error"] == "no luck"


def test_invalid_flow_exits_2_naming_file_line_and_field(e2e_stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\nnamespace: conveyor.tests\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
        "    mesage: typo\n"
    )
    done = e2e_stack.cli("run", str(bad))
    assert done.returncode == 2
    assert f"{bad}:6:" in done.stderr and "tasks[0].mesage" in done.stderr and "unknown property" in done.stderr
    done = e2e_stack.cli("run", str(ROOT / "examples" / "inputs-and-outputs.yaml"), "--input", "times=many")
    assert done.returncode == 2 and "input 'times': expected an integer" in done.stderr


def test_undecodable_event_goes_to_dead_letter_and_the_executor_goes_on(e2e_stack: Stack) -> None:
    topics = Topics.of(e2e_stack.kafka)
    producer = Producer(e2e_stack.kafka)
    producer.send(topics.execution_events, "not-an-execution", b"{this is not json")
    producer.flush()
    consumer = Consumer(e2e_stack.kafka, "test-dead-letter", [topics.dead_letter])
    try:

        def dead() -> list[Message]:
            return [m for m in consumer.consume(100, 0.5) if m.key == b"not-an-execution"]

        (msg,) = e2e_stack.poll(dead, timeout=30)
        headers = headers_of(msg)
        assert headers["conveyor.service"] == b"executor" and b"undecodable" in headers["conveyor.reason"]
    finally:
        consumer.close()
    execution = e2e_stack.run_json(ROOT / "examples" / "hello.yaml")
    assert execution["state"]["current"] == "SUCCESS"


def test_taskruns_cli_filters_sorts_and_pages(e2e_stack: Stack) -> None:
    execution = e2e_stack.run_json(ROOT / "examples" / "hello.yaml")
    ids = {r["id"] for r in execution["taskRunList"]}

    def search(*args: str) -> tuple[list[dict[str, Any]], str]:
        done = e2e_stack.cli("taskruns", "--execution", execution["id"], "--output", "json", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), done.stderr

    assert e2e_stack.poll(lambda: len(search()[0]) == len(ids))
    by_task, _ = search("--sort", "taskId:asc")
    assert [r["taskId"] for r in by_task] == ["greet", "say"]
    (found,), _ = search("--q", "gree")
    assert found["taskId"] == "greet"
    first, hint = search("--size", "1", "--sort", "taskId:asc")
    cursor = hint.split("--after", 1)[1].split()[0]
    second, _ = search("--size", "1", "--sort", "taskId:asc", "--after", cursor)
    assert [r["taskId"] for r in first + second] == ["greet", "say"]
    assert search("--after-date", "2999-01-01T00:00:00Z")[0] == []
    bad = e2e_stack.cli("taskruns", "--sort", "nope:sideways")
    assert bad.returncode == 2 and "sort" in bad.stderr
