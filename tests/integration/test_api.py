"""`conveyor server`'s HTTP API on the real Elasticsearch and Kafka: every endpoint, the filters, paging
with the cursor, the daily statistics, deploying flows and starting executions, kill and restart refused
for an unknown execution or without Kafka, and bad parameters answered 400/422 by name (never 500).

The task runs, executions and log lines are the indexer's own documents (`indexer.documents`) written
into indices made by the real templates; the server runs in uvicorn on a free port and is called over HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from elasticsearch.helpers import bulk

from conveyor.common.deployed import DeployedFlow
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import ExecutionCreated, LogEntry, TaskRunChange
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Attempt, Execution, TaskRun
from conveyor.common.servers.process import free_port
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer import documents, templates
from tests.apiserver import ADMIN_AUTH, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

S = StateType
MAY = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def state(*steps: StateType, at: datetime, seconds: float) -> State:
    """`steps` spread evenly over `seconds` from `at`."""
    gap = seconds / max(len(steps) - 1, 1)
    return State(
        current=steps[-1],
        histories=[StateHistory(state=s, date=at + timedelta(seconds=i * gap)) for i, s in enumerate(steps)],
    )


def run(
    tr_id: str,
    execution: str,
    namespace: str,
    flow: str,
    task: str,
    final: StateType,
    at: datetime,
    seconds: float,
    attempts: int = 1,
    **kw: Any,
) -> TaskRun:
    steps = (S.CREATED, S.RUNNING) if final == S.RUNNING else (S.CREATED, S.RUNNING, final)
    tries = [
        Attempt(state=state(S.RUNNING, S.FAILED, at=at, seconds=0.5), worker_id="w1", error="boom")
        for _ in range(attempts - 1)
    ]
    tries.append(Attempt(state=state(S.RUNNING, final, at=at, seconds=seconds), worker_id="w2"))
    return TaskRun(
        id=tr_id,
        execution_id=execution,
        namespace=namespace,
        flow_id=flow,
        task_id=task,
        state=state(*steps, at=at, seconds=seconds),
        attempts=tries,
        **kw,
    )


DAY = timedelta(days=1)
# 8 task runs over May 1, 2 and 4 (none on May 3), in three namespaces.
RUNS = [
    run("tr-a1", "ex-a", "company.team", "hello", "greet", S.SUCCESS, MAY, 1.0, outputs={"value": "hi"}),
    run("tr-a2", "ex-a", "company.team", "hello", "say", S.SUCCESS, MAY + timedelta(seconds=2), 3.0),
    run("tr-b1", "ex-b", "company.team.sub", "etl", "extract", S.FAILED, MAY + DAY, 2.0, attempts=2),
    run("tr-b2", "ex-b", "company.team.sub", "etl", "load", S.SUCCESS, MAY + DAY + timedelta(seconds=5), 4.0),
    run("tr-c1", "ex-c", "companyx", "other", "t1", S.RUNNING, MAY + 3 * DAY, 1.0),
    run("tr-c2", "ex-c", "companyx", "other", "t2", S.WARNING, MAY + 3 * DAY + timedelta(seconds=1), 6.0),
    run("tr-d1", "ex-d", "company.team", "hello", "each", S.SUCCESS, MAY + 3 * DAY, 2.0, value="alpha"),
    run(
        "tr-d2",
        "ex-d",
        "company.team",
        "hello",
        "each",
        S.SUCCESS,
        MAY + 3 * DAY + timedelta(seconds=3),
        2.0,
        value="beta",
    ),
]

FLOW = """\
id: greet
namespace: api.test
inputs:
  - id: name
    type: STRING
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }}"
"""


class Api:
    def __init__(self, base: str, kafka: KafkaSettings, es: ElasticsearchSettings) -> None:
        self.http = httpx.Client(base_url=base, timeout=30, auth=ADMIN_AUTH)
        self.kafka = kafka
        self.es = es

    def search(self, **params: Any) -> dict[str, Any]:
        answer = self.http.get("/api/v1/taskruns/search", params=params)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def ids(self, **params: Any) -> list[str]:
        return [r["id"] for r in self.search(size=100, **params)["results"]]


def _index(es: ElasticsearchSettings) -> None:
    client = elasticsearch_client(es)
    prefix = es.index_prefix
    templates.install(client, prefix)
    actions = [documents.taskrun_action(prefix, TaskRunChange(revision=3, task_run=tr)).bulk() for tr in RUNS]
    for ex_id, members in (("ex-a", RUNS[:2]), ("ex-b", RUNS[2:4])):
        first = members[0]
        execution = Execution(
            id=ex_id,
            namespace=first.namespace,
            flow_id=first.flow_id,
            state=state(S.CREATED, S.RUNNING, members[-1].state.current, at=first.state.start_date or MAY, seconds=9),
            task_run_list=members,
            inputs={"who": "tests"},
            revision=5,
        )
        actions.append(documents.execution_action(prefix, execution).bulk())
    lines = [
        ("ex-b", "tr-b1", "extract", LogLevel.INFO, "reading the source"),
        ("ex-b", "tr-b1", "extract", LogLevel.ERROR, "the source is gone"),
        ("ex-b", "tr-b2", "load", LogLevel.INFO, "loaded 0 rows"),
    ]
    for offset, (ex_id, tr_id, task, level, message) in enumerate(lines):
        entry = LogEntry(
            namespace="company.team.sub",
            flow_id="etl",
            execution_id=ex_id,
            task_id=task,
            task_run_id=tr_id,
            level=level,
            message=message,
            timestamp=MAY + DAY + timedelta(seconds=offset),
        )
        actions.append(documents.log_action(prefix, entry, "logs", 0, offset).bulk())
    bulk(client, actions, refresh=True)
    client.close()


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[Api]:
    prefix = f"t-api-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=2)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    _index(es)
    with serving(kafka, es) as base:
        client = Api(base, kafka, es)
        yield client
        client.http.close()


def test_search_defaults_to_newest_first_with_the_task_run_documents(api: Api) -> None:
    page = api.search()
    assert page["total"] == 8 and page["next"] is None
    starts = [r["state"]["startDate"] for r in page["results"]]
    assert starts == sorted(starts, reverse=True)
    extract = next(r for r in page["results"] if r["id"] == "tr-b1")
    assert extract["attemptsCount"] == 2 and extract["workerId"] == "w2"
    assert extract["state"]["current"] == "FAILED" and extract["state"]["durationMs"] == 2000
    assert [a["state"]["current"] for a in extract["attempts"]] == ["FAILED", "FAILED"]
    assert extract["attempts"][0]["error"] == "boom"


def test_every_filter(api: Api) -> None:
    # namespace is a prefix on dots: company.team and company.team.sub, never companyx
    assert set(api.ids(namespace="company.team")) == {"tr-a1", "tr-a2", "tr-b1", "tr-b2", "tr-d1", "tr-d2"}
    assert set(api.ids(namespace="company.team.sub")) == {"tr-b1", "tr-b2"}
    assert set(api.ids(namespace="companyx")) == {"tr-c1", "tr-c2"}
    assert set(api.ids(flowId="etl")) == {"tr-b1", "tr-b2"}
    assert set(api.ids(executionId="ex-d")) == {"tr-d1", "tr-d2"}
    assert set(api.ids(taskId="each")) == {"tr-d1", "tr-d2"}
    assert set(api.ids(state=["FAILED", "WARNING"])) == {"tr-b1", "tr-c2"}
    assert set(api.ids(state="RUNNING")) == {"tr-c1"}
    # q: a case-insensitive substring of ids, namespace, flow, task or value
    assert set(api.ids(q="ALPH")) == {"tr-d1"}
    assert set(api.ids(q="extr")) == {"tr-b1"}
    # dates: a plain date is the whole day, both bounds inclusive
    assert set(api.ids(startDate="2024-05-02", endDate="2024-05-02")) == {"tr-b1", "tr-b2"}
    assert set(api.ids(startDate="2024-05-04T00:00:00Z")) == {"tr-c1", "tr-c2", "tr-d1", "tr-d2"}
    assert set(api.ids(endDate="2024-05-01T10:00:01+00:00")) == {"tr-a1"}
    assert api.ids(startDate="2024-05-03", endDate="2024-05-03") == []
    assert set(api.ids(namespace="company", state="SUCCESS", taskId="each", q="beta")) == {"tr-d2"}


def test_sort_by_any_column_with_the_id_as_tiebreaker(api: Api) -> None:
    assert api.ids(sort="taskId:asc")[:3] == ["tr-d1", "tr-d2", "tr-b1"]  # each, each, extract
    durations = [r["state"].get("durationMs") for r in api.search(sort="state.durationMs:desc")["results"]]
    assert durations == [6000, 4000, 3000, 2000, 2000, 2000, 1000, 1000]
    assert api.ids(sort="attemptsCount:desc")[0] == "tr-b1"


def test_paging_with_the_cursor_and_numbered_pages(api: Api) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"size": 3, "sort": "state.startDate:asc"}
        if cursor:
            params["after"] = cursor
        page = api.search(**params)
        assert page["total"] == 8
        seen.extend(r["id"] for r in page["results"])
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 8 and len(set(seen)) == 8
    assert seen == api.ids(sort="state.startDate:asc")
    # page 2 by number is the page the first cursor reaches
    second = api.search(size=3, page=2, sort="state.startDate:asc")
    assert [r["id"] for r in second["results"]] == seen[3:6]
    # a page that ends exactly on the last hit has no next
    assert api.search(size=8)["next"] is None and api.search(size=7)["next"] is not None


@pytest.mark.parametrize(
    ("params", "status", "parameter"),
    [
        ({"size": 0}, 422, "size"),
        ({"size": 1001}, 422, "size"),
        ({"size": "many"}, 422, "size"),
        ({"page": 0}, 422, "page"),
        ({"page": 1000, "size": 25}, 400, "page"),
        ({"sort": "nope:asc"}, 400, "sort"),
        ({"sort": "taskId:sideways"}, 400, "sort"),
        ({"state": "DONE"}, 422, "state"),
        ({"startDate": "yesterday"}, 422, "startDate"),
        ({"endDate": "2024-13-01"}, 422, "endDate"),
        ({"startDate": "2024-05-04", "endDate": "2024-05-01"}, 400, "endDate"),
        ({"after": "not-a-cursor!"}, 400, "after"),
        ({"q": "x" * 201}, 422, "q"),
        ({"state": "DONE", "sort": "nope"}, 422, "state"),  # validation answers before the page is checked
        ({"startDate": "soon", "size": 0}, 422, "startDate"),  # the filters are read before the page
    ],
)
def test_bad_search_parameters_are_named(api: Api, params: dict[str, Any], status: int, parameter: str) -> None:
    answer = api.http.get("/api/v1/taskruns/search", params=params)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert f"'{parameter}'" in body["message"]
    assert body["errors"][0]["parameter"] == parameter


def test_daily_stats_count_states_and_durations_per_day_with_empty_days(api: Api) -> None:
    answer = api.http.post("/api/v1/stats/taskruns/daily", json={"startDate": "2024-04-30", "endDate": "2024-05-05"})
    assert answer.status_code == 200, answer.text
    days = {d["startDate"]: d for d in answer.json()}
    assert list(days) == ["2024-04-30", "2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04", "2024-05-05"]
    assert sum(days["2024-05-03"]["counts"].values()) == 0 and days["2024-05-03"]["duration"]["count"] == 0
    assert days["2024-05-01"]["counts"]["SUCCESS"] == 2
    assert days["2024-05-02"]["counts"] == {**{s.value: 0 for s in S}, "FAILED": 1, "SUCCESS": 1}
    may4 = days["2024-05-04"]
    assert (may4["counts"]["RUNNING"], may4["counts"]["WARNING"], may4["counts"]["SUCCESS"]) == (1, 1, 2)
    assert may4["duration"] == {"count": 4, "min": 1000.0, "avg": 2750.0, "max": 6000.0, "sum": 11000.0}
    # the same filters as the search
    filtered = api.http.post(
        "/api/v1/stats/taskruns/daily",
        json={"startDate": "2024-05-01", "endDate": "2024-05-04", "namespace": "company.team", "state": ["SUCCESS"]},
    ).json()
    assert [sum(d["counts"].values()) for d in filtered] == [2, 1, 0, 2]
    by_q = api.http.post(
        "/api/v1/stats/taskruns/daily", json={"startDate": "2024-05-04", "endDate": "2024-05-04", "q": "beta"}
    ).json()
    assert by_q[0]["counts"]["SUCCESS"] == 1
    # a time zone moves the day boundaries: 10:00 UTC on May 1 is still May 1 in Tokyo (19:00)
    tokyo = api.http.post(
        "/api/v1/stats/taskruns/daily",
        json={"startDate": "2024-05-01", "endDate": "2024-05-01", "timeZone": "Asia/Tokyo", "flowId": "hello"},
    ).json()
    assert tokyo[0]["counts"]["SUCCESS"] == 2
    # no body: the last 30 days, today included
    recent = api.http.post("/api/v1/stats/taskruns/daily")
    assert recent.status_code == 200 and len(recent.json()) == 30


@pytest.mark.parametrize(
    ("body", "status", "parameter"),
    [
        ({"startDate": "soon"}, 422, "startDate"),
        ({"startDate": "2024-05-05", "endDate": "2024-05-01"}, 400, "endDate"),
        ({"timeZone": "Mars/Olympus"}, 400, "timeZone"),
        ({"state": ["NOPE"]}, 422, "state[0]"),
        ({"flow": "typo"}, 422, "flow"),
    ],
)
def test_bad_daily_stats_bodies_are_named(api: Api, body: dict[str, Any], status: int, parameter: str) -> None:
    answer = api.http.post("/api/v1/stats/taskruns/daily", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"][0]["parameter"] == parameter


def test_an_execution_with_its_task_runs_and_its_logs(api: Api) -> None:
    answer = api.http.get("/api/v1/executions/ex-b")
    assert answer.status_code == 200, answer.text
    execution = answer.json()
    assert (execution["id"], execution["flowId"], execution["state"]["current"]) == ("ex-b", "etl", "SUCCESS")
    assert [tr["id"] for tr in execution["taskRunList"]] == ["tr-b1", "tr-b2"]
    missing = api.http.get("/api/v1/executions/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["message"]

    logs = api.http.get("/api/v1/logs/ex-b").json()
    assert [line["message"] for line in logs] == ["reading the source", "the source is gone", "loaded 0 rows"]
    one = api.http.get("/api/v1/logs/ex-b", params={"taskRunId": "tr-b1", "minLevel": "WARN"}).json()
    assert [(line["level"], line["taskId"]) for line in one] == [("ERROR", "extract")]
    assert api.http.get("/api/v1/logs/ex-b", params={"taskId": "load"}).json()[0]["message"] == "loaded 0 rows"
    assert api.http.get("/api/v1/logs/none").json() == []
    bad = api.http.get("/api/v1/logs/ex-b", params={"minLevel": "LOUD"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["parameter"] == "minLevel"


def test_deploy_a_flow_then_start_executions_of_it(api: Api) -> None:
    yaml = {"content-type": "application/x-yaml"}
    first = api.http.post("/api/v1/flows", content=FLOW, headers=yaml)
    assert first.status_code == 201, first.text
    assert (first.json()["namespace"], first.json()["id"], first.json()["revision"]) == ("api.test", "greet", 1)
    again = api.http.post("/api/v1/flows", content=FLOW, headers=yaml)
    assert again.status_code == 200 and again.json()["revision"] == 1
    changed = api.http.post("/api/v1/flows", content=FLOW.replace("hello {{", "hi {{"), headers=yaml)
    assert changed.status_code == 201 and changed.json()["revision"] == 2
    assert api.http.get("/api/v1/flows/api.test/greet").json()["revision"] == 2

    # the flows topic holds it: another server (a fresh reader of the topic) sees revision 2
    table = TopicTable(api.kafka, Topics.of(api.kafka).flows)
    try:
        stored = DeployedFlow.model_validate_json(table.get("api.test/greet") or b"")
    finally:
        table.close()
    assert stored.revision == 2 and "hi {{" in stored.source

    started = api.http.post("/api/v1/executions/api.test/greet?labels=team:qa", json={"name": "Ada"})
    assert started.status_code == 200, started.text
    execution = started.json()
    assert execution["state"]["current"] == "CREATED" and execution["flowRevision"] == 2
    assert execution["inputs"] == {"name": "Ada", "times": 1}
    assert {"key": "team", "value": "qa"} in execution["labels"]

    topic = Topics.of(api.kafka).execution_events
    events = [
        ExecutionCreated.model_validate_json(m.value or b"")
        for m in read_partitions_to_end(api.kafka, [(topic, 0), (topic, 1)])
    ]
    assert [e.execution_id for e in events] == [execution["id"]]
    assert events[0].flow["tasks"][0]["format"] == "hi {{ inputs.name }}" and events[0].flow["revision"] == 2


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/api/v1/executions/api.test/greet", {}, 422, "input 'name'"),
        ("/api/v1/executions/api.test/greet", {"name": "x", "times": "two"}, 422, "input 'times'"),
        ("/api/v1/executions/api.test/greet", [1, 2], 422, "'body'"),
        ("/api/v1/executions/api.test/nothing", {}, 404, "not deployed"),
        ("/api/v1/executions/api.test/greet?labels=nocolon", {"name": "x"}, 400, "'labels'"),
    ],
)
def test_bad_execution_requests(api: Api, path: str, body: Any, status: int, needle: str) -> None:
    api.http.post("/api/v1/flows", content=FLOW, headers={"content-type": "application/x-yaml"})
    answer = api.http.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert needle in answer.json()["message"]


def test_an_invalid_flow_is_refused_with_its_line_and_field(api: Api) -> None:
    bad = FLOW.replace("io.kestra.plugin.core.debug.Return", "io.kestra.plugin.core.debug.Nope")
    answer = api.http.post("/api/v1/flows", content=bad, headers={"content-type": "application/x-yaml"})
    assert answer.status_code == 422, answer.text
    problem = answer.json()["errors"][0]
    assert problem["field"] == "tasks[0].type" and problem["line"] == 11 and "unknown task type" in problem["message"]
    broken = api.http.post("/api/v1/flows", content="id: [unclosed\n", headers={"content-type": "application/x-yaml"})
    assert broken.status_code == 422 and broken.json()["errors"][0]["line"] == 2
    empty = api.http.post("/api/v1/flows", content="")
    assert empty.status_code == 422 and "empty" in empty.json()["message"]
    assert api.http.get("/api/v1/flows/api.test/never").status_code == 404


def test_health_docs_and_page(api: Api) -> None:
    health = api.http.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json()["status"] == "UP" and health.json()["elasticsearch"]["status"] == "UP"
    spec = api.http.get("/openapi.json").json()
    for path in (
        "/api/v1/taskruns/search",
        "/api/v1/stats/taskruns/daily",
        "/api/v1/executions/{executionId}",
        "/api/v1/logs/{executionId}",
        "/api/v1/executions/{namespace}/{flowId}",
        "/api/v1/executions/{executionId}/kill",
        "/api/v1/executions/{executionId}/restart",
        "/api/v1/flows",
        "/api/v1/health",
    ):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/api/v1/taskruns/search"]["get"]["parameters"]}
    assert params >= {"page", "size", "sort", "q", "namespace", "flowId", "executionId", "taskId", "state"}
    assert params >= {"startDate", "endDate", "after"}
    docs = api.http.get("/docs")
    assert docs.status_code == 200 and "/docs-static/swagger-ui-bundle.js" in docs.text
    assert api.http.get("/docs-static/swagger-ui-bundle.js").status_code == 200
    page = api.http.get("/")
    assert page.status_code == 200 and '<table id="taskruns"' in page.text and "cdn" not in page.text.lower()
    for asset in ("app.js", "chart.js", "format.js", "style.css", "favicon.svg"):
        assert api.http.get(f"/static/{asset}").status_code == 200, asset


def test_kill_or_restart_an_unknown_execution_is_404_and_503_while_kafka_is_unreachable(api: Api) -> None:
    # kill and restart of running and ended executions: tests/e2e/test_api_control.py
    for action in ("kill", "restart"):
        answer = api.http.post(f"/api/v1/executions/no-such-execution/{action}")
        assert answer.status_code == 404, answer.text
        assert answer.json()["message"].startswith("no execution no-such-execution")
        # the Kafka address is the CLI's business (it names the cluster it asked), not the API caller's
        assert api.kafka.bootstrap not in answer.text and "topic prefix" not in answer.text
    away = KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}", topic_prefix=api.kafka.topic_prefix)
    with serving(away, api.es) as base:
        answer = httpx.post(f"{base}/api/v1/executions/ex-a/kill", timeout=60, auth=ADMIN_AUTH)
    assert answer.status_code == 503, answer.text
    assert answer.json()["message"].startswith("Kafka unavailable")
