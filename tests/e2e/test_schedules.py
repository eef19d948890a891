"""Schedule triggers end to end: `conveyor scheduler` processes on the real servers with the executor, a
worker and the indexer. A `withSeconds` schedule every 2 s runs 5 executions with consecutive
`trigger.date`s (rendered by the task, indexed, filterable by trigger); two schedulers for 60 s, one
SIGKILLed and restarted midway, fire each slot exactly once (no gap, no duplicate)."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from datetime import datetime, timedelta

import orjson
import pytest

from conveyor.api.catalog import FlowCatalog
from conveyor.common.events import ExecutionCreated
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

ENV = {"CONVEYOR_SCHEDULER_FLOWS_REFRESH": "0.5"}


def flow(flow_id: str, cron: str) -> str:
    return f"""
id: {flow_id}
namespace: conveyor.e2e
tasks:
  - {{id: when, type: io.kestra.plugin.core.debug.Return, format: "{{{{ trigger.date }}}}"}}
triggers:
  - {{id: tick, type: io.kestra.plugin.core.trigger.Schedule, cron: "{cron}", withSeconds: true}}
"""


def deploy(stack: Stack, *sources: str) -> None:
    catalog = FlowCatalog(stack.kafka, Producer(stack.kafka))
    try:
        for source in sources:
            catalog.deploy(source)
    finally:
        catalog.close()


def created(stack: Stack) -> list[ExecutionCreated]:
    topic = Topics.of(stack.kafka).execution_events
    out = []
    for msg in read_partitions_to_end(stack.kafka, [(topic, p) for p in range(stack.kafka.partitions)]):
        if msg.value and orjson.loads(msg.value).get("kind") == "ExecutionCreated":
            out.append(ExecutionCreated.model_validate_json(msg.value))
    return out


def test_every_two_seconds_gives_five_executions_with_consecutive_trigger_dates(e2e_stack: Stack) -> None:
    e2e_stack.start("scheduler", "scheduler")
    deploy(e2e_stack, flow("every2", "*/2 * * * * *"))

    def five_done() -> list[dict[str, object]]:
        done = e2e_stack.cli("executions", "--flow", "every2", "--trigger", "tick", "--state", "SUCCESS",
                             "--size", "50", "-o", "json")  # fmt: skip
        found = json.loads(done.stdout) if done.returncode == 0 else []
        return list(found) if len(found) >= 5 else []

    docs = e2e_stack.poll(five_done, timeout=120, every=1.0)
    assert docs, f"no 5 scheduled executions ended\n{e2e_stack.tail()}"
    e2e_stack.stop("scheduler")
    dates = sorted(datetime.fromisoformat(str(d["trigger"]["date"])) for d in docs)
    assert len(set(dates)) == len(dates), "a slot ran twice"
    first_five = dates[:5]
    assert [b - a for a, b in itertools.pairwise(first_five)] == [timedelta(seconds=2)] * 4
    assert all(d.second % 2 == 0 for d in first_five)
    runs = e2e_stack.cli("taskruns", "--flow", "every2", "--trigger", "tick", "--size", "100", "-o", "json")
    values = {r["outputs"]["value"] for r in json.loads(runs.stdout) if r.get("outputs")}
    assert {d.isoformat().replace("+00:00", "Z") for d in first_five} <= values, "the task rendered trigger.date"


def test_two_schedulers_one_killed_and_restarted_fire_each_slot_exactly_once(e2e_stack: Stack) -> None:
    names = [f"second{i}" for i in range(6)]  # spread over the 3 partitions
    e2e_stack.start("scheduler-a", "scheduler")
    e2e_stack.start("scheduler-b", "scheduler")
    deploy(e2e_stack, *(flow(name, "* * * * * *") for name in names))
    started = time.monotonic()
    time.sleep(20)
    e2e_stack.kill("scheduler-a")  # SIGKILL: no clean leave, possibly inside a transaction
    time.sleep(10)
    e2e_stack.start("scheduler-a", "scheduler")
    time.sleep(max(0.0, 60 - (time.monotonic() - started)))
    stopped_at = datetime.now().astimezone()
    # Let the survivors recover what the killed one missed (its open transaction aborts within 15 s).
    time.sleep(25)
    e2e_stack.stop("scheduler-a")
    e2e_stack.stop("scheduler-b")
    events = [e for e in created(e2e_stack) if e.execution.flow_id in names]
    for name in names:
        mine = [e for e in events if e.execution.flow_id == name]
        ids = Counter(e.execution_id for e in mine)
        assert all(n == 1 for n in ids.values()), f"{name}: a slot's execution was created twice"
        dates = sorted(e.execution.trigger.date for e in mine if e.execution.trigger and e.execution.trigger.date)
        assert len(dates) == len(set(dates)) == len(mine), f"{name}: a date fired twice"
        span = int((dates[-1] - dates[0]).total_seconds()) + 1
        assert span == len(dates), f"{name}: {span - len(dates)} slots missing between {dates[0]} and {dates[-1]}"
        assert dates[-1] >= stopped_at - timedelta(seconds=5), f"{name}: stopped firing at {dates[-1]}"
        assert len(dates) >= 50, f"{name}: only {len(dates)} slots in 60 s"


STOPPING = """
id: stopping
namespace: conveyor.e2e
tasks:
  - {id: fail, type: io.kestra.plugin.core.execution.Fail, errorMessage: "stop me"}
triggers:
  - {id: tick, type: io.kestra.plugin.core.trigger.Schedule, cron: "*/2 * * * * *", withSeconds: true,
     stopAfter: [FAILED]}
"""


def test_stop_after_disables_the_trigger_once_an_execution_it_started_failed(e2e_stack: Stack) -> None:
    """The first scheduled execution fails; the scheduler learns it (the Flow trigger loop's notice on
    `trigger-control`), disables the trigger and says why in `triggers list`; no slot fires after that."""
    from conveyor.common.triggers.admin import list_triggers

    e2e_stack.start("scheduler", "scheduler")
    deploy(e2e_stack, STOPPING)

    def stopped() -> dict[str, object] | None:
        rows = [r for r in list_triggers(e2e_stack.kafka, "conveyor.e2e") if r.flow_id == "stopping"]
        return rows[0].to_dict() if rows and rows[0].disabled_by == "stopAfter" else None

    row = e2e_stack.poll(stopped, timeout=90, every=0.5)
    assert row, f"the trigger was not stopped\n{e2e_stack.tail()}"
    assert row["enabled"] is False and "next" not in row
    record = row["stoppedAfter"]
    assert isinstance(record, dict) and record["state"] == "FAILED"
    mine = [e for e in created(e2e_stack) if e.execution.flow_id == "stopping"]
    assert record["executionId"] in {e.execution_id for e in mine}
    time.sleep(6)  # three more slots' worth: none fires
    after = [e for e in created(e2e_stack) if e.execution.flow_id == "stopping"]
    e2e_stack.stop("scheduler")
    assert len(after) == len(mine), "a slot fired after stopAfter disabled the trigger"
    # Fires were only those before the stop: the first failing one and the slots while it ran.
    assert 1 <= len(mine) <= 5
