"""`GET /api/v1/triggers` and the enable/disable/backfill routes on the real servers (with a scheduler)."""

from __future__ import annotations

import time

import httpx
import pytest

from conveyor.api.catalog import FlowCatalog
from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings, SchedulerSettings
from conveyor.scheduler.service import Scheduler
from tests.apiserver import serving
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
    with running(scheduler), serving(kafka_settings, es_settings) as base, httpx.Client(base_url=base) as http:

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
