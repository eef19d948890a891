"""Enable and disable a Flow and a Webhook trigger on the real servers (a scheduler with its Flow trigger
loop, the API, `conveyor triggers`): the request is recorded in the trigger's state; a disabled webhook
answers exactly the unknown flow's 404; a disabled Flow trigger does not fire while another flow's trigger
on the same ended execution does (the witness that the end was read); enabled again, both work. A webhook
trigger's `stopAfter` disables it once an execution it started failed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from conveyor.api.catalog import FlowCatalog
from conveyor.common.clock import utcnow
from conveyor.common.events import FLOW_HEADER, ExecutionCreated
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution, ExecutionTrigger
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings, SchedulerSettings
from conveyor.common.state import State, StateType
from conveyor.scheduler.flow_triggers import FlowTriggers
from conveyor.scheduler.service import Scheduler
from tests.apiserver import ADMIN_AUTH, serving
from tests.cli import run_cli
from tests.integration.inprocess import serving as running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

NS = "toggle"
DOWN = f"""
id: down
namespace: {NS}
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: "{{{{ trigger.executionId ?? 'hook' }}}}"}}
triggers:
  - id: after_up
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - {{type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: {NS}, flowId: up}}
  - {{id: hook, type: io.kestra.plugin.core.trigger.Webhook, key: open-k3y}}
  - {{id: fragile, type: io.kestra.plugin.core.trigger.Webhook, key: fragile-k3y, stopAfter: [FAILED]}}
"""
# Its trigger fires for the same ended executions as `down`'s: the proof that an end was read.
WITNESS = f"""
id: witness
namespace: {NS}
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: x}}
triggers:
  - id: seen
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - {{type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: {NS}, flowId: up}}
"""


def end(producer: Producer, topics: Topics, execution: Execution) -> None:
    """The executor's final snapshot of `execution` (with the pinned-flow header the Flow trigger loop reads)."""
    producer.send(topics.executions, execution.id, execution.to_json(), headers=[(FLOW_HEADER, b"{}")])
    producer.flush()


def ended_up(execution_id: str) -> Execution:
    return Execution(id=execution_id, namespace=NS, flow_id="up", state=State.new(utcnow(), StateType.SUCCESS))


def started_for(kafka: KafkaSettings, execution_id: str) -> set[str]:
    """The flows whose start for the ended `execution_id` is committed on `execution-events`."""
    topics = Topics.of(kafka)
    flows = set()
    for msg in read_partitions_to_end(kafka, [(topics.execution_events, p) for p in range(kafka.partitions)]):
        created = ExecutionCreated.model_validate_json(msg.value or b"")
        trigger = created.execution.trigger
        if trigger is not None and trigger.variables.get("executionId") == execution_id:
            flows.add(created.execution.flow_id)
    return flows


def triggered_by(kafka: KafkaSettings, execution_id: str, timeout: float = 60.0) -> set[str]:
    """The flows started for the ended `execution_id`, once the witness's start is committed. Any other start
    for it is in the same transaction, written before that commit: one more read from fresh high watermarks
    (read_committed waits for each partition's commit marker) sees every one."""
    deadline = time.monotonic() + timeout
    while "witness" not in started_for(kafka, execution_id):
        assert time.monotonic() < deadline, f"no start for {execution_id} within {timeout}s"
        time.sleep(0.3)
    return started_for(kafka, execution_id)


@contextmanager
def stack(kafka: KafkaSettings, es: ElasticsearchSettings) -> Iterator[httpx.Client]:
    catalog = FlowCatalog(kafka, Producer(kafka))
    catalog.deploy(DOWN)
    catalog.deploy(WITNESS)
    scheduler = Scheduler(kafka, SchedulerSettings(poll_timeout=0.05, flows_refresh=0.2))
    with (
        running(scheduler),
        running(FlowTriggers(kafka)),
        serving(kafka, es) as base,
        httpx.Client(base_url=base, auth=ADMIN_AUTH, timeout=30) as http,
    ):
        yield http
    catalog.close()


def until(
    rows: Callable[[], dict[str, dict[str, object]]], check: Callable[[dict[str, dict[str, object]]], bool]
) -> dict[str, dict[str, object]]:
    deadline = time.monotonic() + 30
    found = rows()
    while not check(found) and time.monotonic() < deadline:
        time.sleep(0.2)
        found = rows()
    assert check(found), found
    return found


def test_flow_and_webhook_triggers_are_disabled_and_enabled(
    kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings
) -> None:
    topics, producer = Topics.of(kafka_settings), Producer(kafka_settings)
    env = {
        **os.environ,
        "CONVEYOR_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
        "CONVEYOR_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "CONVEYOR_KAFKA_PARTITIONS": str(kafka_settings.partitions),
    }
    with stack(kafka_settings, es_settings) as http:

        def rows() -> dict[str, dict[str, object]]:
            answer = http.get("/api/v1/triggers", params={"namespace": NS})
            assert answer.status_code == 200, answer.text
            return {f"{row['flowId']}/{row['triggerId']}": row for row in answer.json()}

        hook = f"/api/v1/executions/webhook/{NS}/down/open-k3y"
        assert http.post(hook, json={}).status_code == 200
        unknown = http.post(f"/api/v1/executions/webhook/{NS}/nothing/open-k3y", json={})
        assert unknown.status_code == 404

        # the Flow trigger through the API, the webhook through the CLI
        answer = http.post(f"/api/v1/triggers/{NS}/down/after_up/disable")
        assert answer.status_code == 202 and answer.json()["action"] == "disable", answer.text
        cli = run_cli(env, "triggers", "disable", NS, "down", "hook")
        assert cli.returncode == 0, cli.stderr
        listed = until(rows, lambda r: not r["down/after_up"]["enabled"] and not r["down/hook"]["enabled"])
        assert listed["down/after_up"]["disabledBy"] == listed["down/hook"]["disabledBy"] == "request"
        assert listed["witness/seen"]["enabled"] is True
        shown = run_cli(env, "triggers", "list", "-n", NS, "-o", "json")
        assert shown.returncode == 0, shown.stderr
        assert {r["triggerId"]: r.get("disabledBy") for r in json.loads(shown.stdout)}["hook"] == "request"

        disabled = http.post(hook, json={})
        assert disabled.status_code == 404 and disabled.json() == unknown.json()
        assert http.get(hook).status_code == 404
        end(producer, topics, ended_up("up-while-disabled"))
        assert triggered_by(kafka_settings, "up-while-disabled") == {"witness"}

        cli = run_cli(env, "triggers", "enable", NS, "down", "after_up")
        assert cli.returncode == 0, cli.stderr
        assert http.post(f"/api/v1/triggers/{NS}/down/hook/enable").status_code == 202
        until(rows, lambda r: r["down/after_up"]["enabled"] is True and r["down/hook"]["enabled"] is True)
        assert http.post(hook, json={}).status_code == 200
        end(producer, topics, ended_up("up-enabled"))
        assert triggered_by(kafka_settings, "up-enabled") == {"witness", "down"}


def test_a_webhooks_stop_after_disables_it(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> None:
    topics, producer = Topics.of(kafka_settings), Producer(kafka_settings)
    with stack(kafka_settings, es_settings) as http:
        hook = f"/api/v1/executions/webhook/{NS}/down/fragile-k3y"
        started = http.post(hook, json={})
        assert started.status_code == 200, started.text
        execution = Execution.model_validate(started.json())
        # the execution it started ends FAILED (as the executor's final snapshot says)
        failed = execution.model_copy(
            update={
                "state": State.new(utcnow(), StateType.FAILED),
                "trigger": ExecutionTrigger(id="fragile", type="io.kestra.plugin.core.trigger.Webhook"),
            }
        )
        end(producer, topics, failed)

        def rows() -> dict[str, dict[str, object]]:
            return {row["triggerId"]: row for row in http.get("/api/v1/triggers", params={"namespace": NS}).json()}

        listed = until(rows, lambda r: r["fragile"]["enabled"] is False)
        assert listed["fragile"]["disabledBy"] == "stopAfter"
        assert listed["fragile"]["stoppedAfter"]["executionId"] == execution.id  # type: ignore[index]
        assert http.post(hook, json={}).status_code == 404
        assert listed["hook"]["enabled"] is True  # the flow's other webhook goes on
        assert http.post(f"/api/v1/executions/webhook/{NS}/down/open-k3y", json={}).status_code == 200
