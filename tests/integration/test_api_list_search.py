"""The searches behind the Executions and Logs pages, over HTTP on the real Elasticsearch: executions by
labels, start-date window and text; log lines of every execution by namespace, flow, level, words of the
message and time, newest or oldest first, paged on with the cursor; bad parameters answered 4xx by name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from elasticsearch.helpers import bulk

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import LogEntry
from conveyor.common.model import Execution, Label
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer import documents, templates
from tests.apiserver import ADMIN_AUTH, PASSWORD, auth_with, serving, user

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DAY = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
LEVELS = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR]


def _state(start: datetime, final: StateType) -> State:
    steps = [StateType.CREATED, StateType.RUNNING, final]
    return State(
        current=final, histories=[StateHistory(state=s, date=start + timedelta(seconds=i)) for i, s in enumerate(steps)]
    )


def _documents(prefix: str) -> list[dict[str, Any]]:
    """5 executions a day apart (labels env:prod on the even ones), each with 4 log lines, one per level."""
    actions = []
    for n in range(5):
        namespace = "list.a" if n < 4 else "list.b"
        start = DAY + timedelta(days=n)
        execution = Execution(
            id=f"ex-{n}",
            namespace=namespace,
            flow_id="etl" if n % 2 == 0 else "report",
            state=_state(start, StateType.SUCCESS if n != 3 else StateType.FAILED),
            labels=[Label(key="env", value="prod" if n % 2 == 0 else "dev"), Label(key="n", value=str(n))],
            revision=3,
        )
        actions.append(documents.execution_action(prefix, execution).bulk())
        for i, level in enumerate(LEVELS):
            line = LogEntry(
                namespace=namespace,
                flow_id=execution.flow_id,
                execution_id=execution.id,
                task_id="step",
                task_run_id=f"tr-{n}",
                level=level,
                message=f"{level.value.lower()} line {i} of run {n}"
                + (" disk full" if level == LogLevel.ERROR else ""),
                timestamp=start + timedelta(minutes=i),
            )
            actions.append(documents.log_action(prefix, line, "logs", n % 2, 10 * n + i).bulk())
    return actions


@pytest.fixture(scope="module")
def http(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[httpx.Client]:
    prefix = f"t-list-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=1)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    client = elasticsearch_client(es)
    templates.install(client, prefix)
    bulk(client, _documents(prefix), refresh=True)
    client.close()
    auth = auth_with({"viewer": user("viewer@list.a")})
    with serving(kafka, es, auth=auth) as base, httpx.Client(base_url=base, timeout=60, auth=ADMIN_AUTH) as http:
        yield http


def _ids(answer: httpx.Response, key: str = "id") -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item[key] for item in answer.json()["results"]]


def test_executions_by_labels_window_and_text(http: httpx.Client) -> None:
    search = "/api/v1/executions/search"
    assert sorted(_ids(http.get(search, params={"labels": "env:prod"}))) == ["ex-0", "ex-2", "ex-4"]
    assert _ids(http.get(search, params={"labels": ["env:prod", "n:2"]})) == ["ex-2"]
    window = {"startDate": "2024-05-02", "endDate": "2024-05-03", "sort": "state.startDate:asc"}
    assert _ids(http.get(search, params=window)) == ["ex-1", "ex-2"]
    assert sorted(_ids(http.get(search, params={"q": "REPO"}))) == ["ex-1", "ex-3"]  # flow id, any case
    assert _ids(http.get(search, params={"q": "report", "state": "FAILED"})) == ["ex-3"]
    bad = http.get(search, params={"labels": "nokey"})
    assert bad.status_code == 422 and "labels" in bad.text
    reversed_window = http.get(search, params={"startDate": "2024-05-03", "endDate": "2024-05-01"})
    assert reversed_window.status_code == 400 and "endDate" in reversed_window.text


def test_logs_across_executions_by_level_text_and_time(http: httpx.Client) -> None:
    search = "/api/v1/logs/search"
    everything = http.get(search).json()
    assert everything["total"] == 20 and everything["totalExact"] is True
    stamps = [line["timestamp"] for line in everything["results"]]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert "partition" not in everything["results"][0]
    errors = http.get(search, params={"namespace": "list", "minLevel": "WARN"}).json()
    assert errors["total"] == 10 and {line["level"] for line in errors["results"]} == {"WARN", "ERROR"}
    assert _ids(http.get(search, params={"q": "disk full", "flowId": "report"}), "executionId") == ["ex-3", "ex-1"]
    one_day = {"startDate": "2024-05-03", "endDate": "2024-05-03", "sort": "timestamp:asc"}
    assert [line["message"] for line in http.get(search, params=one_day).json()["results"]] == [
        "debug line 0 of run 2",
        "info line 1 of run 2",
        "warn line 2 of run 2",
        "error line 3 of run 2 disk full",
    ]
    by_execution = http.get(search, params={"executionId": "ex-4", "taskId": "step"}).json()
    assert by_execution["total"] == 4 and {line["namespace"] for line in by_execution["results"]} == {"list.b"}


def test_log_pages_follow_the_cursor_to_the_end(http: httpx.Client) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"size": 6, "sort": "timestamp:asc"}
    while True:
        page = http.get("/api/v1/logs/search", params=params).json()
        seen += [line["message"] for line in page["results"]]
        if page["next"] is None:
            break
        params["after"] = page["next"]
    assert len(seen) == 20 and len(set(seen)) == 20
    assert seen[0] == "debug line 0 of run 0" and seen[-1] == "error line 3 of run 4 disk full"


def test_log_search_reads_only_the_callers_namespaces_and_names_bad_parameters(http: httpx.Client) -> None:
    viewer = ("viewer", PASSWORD)  # holds viewer on list.a only
    own = http.get("/api/v1/logs/search", params={"size": 100}, auth=viewer).json()
    assert own["total"] == 16 and {line["namespace"] for line in own["results"]} == {"list.a"}
    other = http.get("/api/v1/logs/search", params={"namespace": "list.b"}, auth=viewer).json()
    assert other["total"] == 0 and other["results"] == []
    for params, name in (
        ({"minLevel": "LOUD"}, "minLevel"),
        ({"after": "bm9wZQ"}, "after"),
        ({"sort": "level:asc"}, "sort"),
        ({"startDate": "yesterday"}, "startDate"),
        ({"size": 0}, "size"),
    ):
        bad = http.get("/api/v1/logs/search", params=params)
        assert 400 <= bad.status_code < 500 and name in bad.text, (params, bad.text)
