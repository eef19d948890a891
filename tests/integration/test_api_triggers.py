"""`GET /api/v1/triggers` and the enable/disable/backfill routes on the real servers (with a scheduler)."""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest

from conveyor.api.catalog import FlowCatalog
from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings, SchedulerSettings
from conveyor.scheduler.service import Scheduler
from tests.apiserver import ADMIN_AUTH, serving
from tests.cli import run_cli
from tests.integration.inprocess import serving as running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FLOW = """
id: api-sched
namespace: conveyor.tests
tasks:
  - {id: say, type: io.kestra.plugin.core.log.Log, message: "{{ trigger.date }}"}
triggers:
  - {id: daily, type: io.kestra.plugin.core.trigger.Schedule, cron: "@daily", timezone: Europe/Paris}
  - {id: hook, type: io.kestra.plugin.core.trigger.Webhook, key: s3cr3t}
"""


def test_list_disable_enable_and_refusals(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> None:
    FlowCatalog(kafka_settings, Producer(kafka_settings)).deploy(FLOW)
    scheduler = Scheduler(kafka_settings, SchedulerSettings(poll_timeout=0.05, flows_refresh=0.2))
    with (
        running(scheduler),
        serving(kafka_settings, es_settings) as base,
        httpx.Client(base_url=base, auth=ADMIN_AUTH) as http,
    ):

        def rows() -> dict[str, dict[str, object]]:
            answer = http.get("/api/v1/triggers", params={"namespace": "conveyor.tests"}, timeout=30)
            assert answer.status_code == 200, answer.text
            return {row["triggerId"]: row for row in answer.json()}

        listed = rows()
        assert set(listed) == {"daily", "hook"}
        assert listed["daily"]["enabled"] is True and str(listed["daily"]["next"]).endswith(("+01:00", "+02:00"))
        assert listed["hook"]["type"] == "io.kestra.plugin.core.trigger.Webhook"
        answer = http.post("/api/v1/triggers/conveyor.tests/api-sched/daily/disable", timeout=30)
        assert answer.status_code == 202 and answer.json()["action"] == "disable"
        deadline = time.monotonic() + 20
        while rows()["daily"]["enabled"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rows()["daily"]["disabledBy"] == "request"
        assert http.post("/api/v1/triggers/conveyor.tests/api-sched/daily/enable", timeout=30).status_code == 202

        unknown = http.post("/api/v1/triggers/conveyor.tests/api-sched/nope/disable", timeout=30)
        assert unknown.status_code == 404 and "nope" in unknown.json()["message"]
        webhook = http.post(
            "/api/v1/triggers/conveyor.tests/api-sched/hook/backfill",
            json={"start": "2026-01-01T00:00:00Z"},
            timeout=30,
        )
        assert webhook.status_code == 422 and webhook.json()["errors"][0]["parameter"] == "triggerId"
        backwards = http.post(
            "/api/v1/triggers/conveyor.tests/api-sched/daily/backfill",
            json={"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            timeout=30,
        )
        assert backwards.status_code == 422 and backwards.json()["errors"][0]["parameter"] == "end"
        missing = http.post("/api/v1/triggers/conveyor.tests/api-sched/daily/backfill", json={}, timeout=30)
        assert missing.status_code == 422 and "start" in missing.text


def test_the_cli_lists_triggers_and_refuses_bad_requests_with_exit_2(kafka_settings: KafkaSettings) -> None:
    FlowCatalog(kafka_settings, Producer(kafka_settings)).deploy(FLOW)
    env = {
        **os.environ,
        "CONVEYOR_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
        "CONVEYOR_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "CONVEYOR_KAFKA_PARTITIONS": str(kafka_settings.partitions),
    }
    listed = run_cli(env, "triggers", "list", "-n", "conveyor.tests", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert {row["triggerId"] for row in json.loads(listed.stdout)} == {"daily", "hook"}
    bad_date = run_cli(env, "triggers", "backfill", "conveyor.tests", "api-sched", "daily", "--start", "yesterday")
    assert bad_date.returncode == 2 and "--start: expected an ISO-8601 date-time" in bad_date.stderr
    unknown = run_cli(env, "triggers", "disable", "conveyor.tests", "api-sched", "nope")
    assert unknown.returncode == 2 and "no trigger 'nope'" in unknown.stderr
    ok = run_cli(env, "triggers", "disable", "conveyor.tests", "api-sched", "daily")
    assert ok.returncode == 0 and "disable requested for conveyor.tests/api-sched/daily" in ok.stderr
