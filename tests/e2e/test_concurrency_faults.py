"""Flow concurrency end to end, across a SIGKILL: 300 executions of a limit-3 flow on two executor processes
(each with its slot keeper), one of them killed midway and replaced. From the recorded dates: never more than 3
ran at once, and the queued executions started in the order they were queued. And what a user sees of the
queue: `conveyor executions --state QUEUED` lists the waiting ones, `conveyor kill` ends one KILLED unrun.

`CONVEYOR_CONCURRENCY_EXECUTIONS` sets how many executions run (300 by default)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from conveyor.common.kafka.executions import ExecutionReader
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.state import StateType
from tests.concurrency import first, most_at_once, out_of_order
from tests.e2e.conftest import Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(600),
]

EXECUTORS = 2
WORKERS = 1
WORKER_ENV = {"CONVEYOR_WORKER_CONCURRENCY": "8"}
COUNT = int(os.environ.get("CONVEYOR_CONCURRENCY_EXECUTIONS", "300"))
LIMIT = 3
S = StateType

FLOW = load_flow(f"""
id: limited
namespace: conveyor.e2e
concurrency: {{limit: {LIMIT}}}
tasks:
  - {{id: work, type: io.kestra.plugin.core.debug.Return, format: "{{{{ execution.id }}}}"}}
""")


def ended(reader: ExecutionReader, ids: list[str], latest: dict[str, Execution]) -> int:
    for execution_id in reader.poll(0.2):
        found = reader.execution(execution_id)
        if found is not None:
            latest[execution_id] = found
    return sum(1 for i in ids if i in latest and latest[i].state.terminal)


def test_the_limit_holds_and_the_queue_drains_in_order_across_an_executor_sigkill(e2e_stack: Stack) -> None:
    reader = ExecutionReader(e2e_stack.kafka)
    latest: dict[str, Execution] = {}
    producer = Producer(e2e_stack.kafka)
    topic = Topics.of(e2e_stack.kafka).execution_events
    ids = []
    try:
        for _ in range(COUNT):
            created = new_execution(FLOW)
            producer.send(topic, created.execution_id, created.to_json())
            ids.append(created.execution_id)
        producer.flush()
        deadline = time.monotonic() + 300
        while ended(reader, ids, latest) < COUNT // 3 and time.monotonic() < deadline:
            pass
        assert ended(reader, ids, latest) >= COUNT // 3, e2e_stack.tail()
        e2e_stack.kill("executor")  # its slot keeper dies with it, mid-stream
        e2e_stack.start("executor-3", "executor")
        while ended(reader, ids, latest) < COUNT and time.monotonic() < deadline + 240:
            pass
    finally:
        reader.close()
    executions = [latest[i] for i in ids if i in latest]
    assert len(executions) == COUNT, f"{COUNT - len(executions)} executions missing\n{e2e_stack.tail()}"
    assert {e.state.current for e in executions} == {S.SUCCESS}
    assert most_at_once(executions) == LIMIT
    assert out_of_order(executions) == []
    queued = [e for e in executions if first(e, S.QUEUED) is not None]
    assert len(queued) > COUNT // 2  # submitted at once: most of them waited
    print(f"concurrency: {COUNT} executions, {len(queued)} queued, at most {LIMIT} at once")


HELD = load_flow("""
id: held
namespace: conveyor.e2e
concurrency: {limit: 1}
tasks:
  - {id: hold, type: io.kestra.plugin.core.flow.Sleep, duration: PT60S}
""")


def cli_json(stack: Stack, *args: str) -> Any:
    done = stack.cli(*args, "--output", "json")
    assert done.returncode == 0, f"conveyor {' '.join(args)}: {done.returncode}\n{done.stderr}"
    return json.loads(done.stdout)


def test_the_queue_is_listed_and_a_killed_queued_execution_never_runs(e2e_stack: Stack) -> None:
    producer = Producer(e2e_stack.kafka)
    ids = []
    for _ in range(3):
        created = new_execution(HELD)
        producer.send(Topics.of(e2e_stack.kafka).execution_events, created.execution_id, created.to_json())
        ids.append(created.execution_id)
    producer.flush()

    def queued() -> set[str]:
        listed = cli_json(e2e_stack, "executions", "--flow", "held", "--state", "QUEUED")
        return {e["id"] for e in listed if e["state"]["current"] == "QUEUED"}

    waiting = e2e_stack.poll(lambda: len(queued()) == 2 and queued(), timeout=120, every=1.0)
    assert waiting and waiting < set(ids), e2e_stack.tail()
    [holder] = set(ids) - waiting
    victim = sorted(waiting)[0]
    killed = cli_json(e2e_stack, "kill", victim, "--wait")
    assert killed["state"]["current"] == "KILLED" and not killed.get("taskRunList")
    assert [h["state"] for h in killed["state"]["histories"]] == ["CREATED", "QUEUED", "KILLING", "KILLED"]
    for execution_id in (holder, *(waiting - {victim})):  # the holder, then the one its slot went to
        assert cli_json(e2e_stack, "kill", execution_id, "--wait")["state"]["current"] == "KILLED"
