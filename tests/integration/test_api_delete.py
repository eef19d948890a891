"""`DELETE /api/v1/executions/{id}` and `DELETE /api/v1/executions/by-ids` on the real Kafka and Elasticsearch:
what goes (the execution, its task runs, its log lines unless `deleteLogs=false`), what the bulk route refuses
(an unknown id, a running execution without `includeNonTerminated`: nothing deleted then), and the tombstones
left on Kafka. (The executor's and the indexer's part, and the files: tests/e2e/test_delete.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from elasticsearch.helpers import bulk

from conveyor.api import deletion as api_deletion
from conveyor.common import control
from conveyor.common.control import UnknownExecution
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import FLOW_HEADER, LogEntry, TaskRunChange
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.lookup import EXECUTION_HEADER
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution, ExecutionTrigger, TaskRun
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer import documents, templates
from conveyor.indexer.queries import get_execution, search_logs
from tests.apiserver import ADMIN_HEADERS, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DAY = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _state(final: StateType, when: datetime = DAY) -> State:
    steps = [StateType.CREATED, StateType.RUNNING] + ([final] if final != StateType.RUNNING else [])
    return State(
        current=final, histories=[StateHistory(state=s, date=when + timedelta(seconds=i)) for i, s in enumerate(steps)]
    )


@dataclass
class World:
    kafka: KafkaSettings
    es: ElasticsearchSettings
    http: httpx.Client


def _seed(
    kafka: KafkaSettings,
    es: ElasticsearchSettings,
    execution_id: str,
    final: StateType,
    flow_id: str = "hello",
    namespace: str = "team.d",
    when: datetime = DAY,
) -> None:
    """An execution with two task runs and a log line, on Kafka (as the executor writes them) and indexed."""
    execution = Execution(id=execution_id, namespace=namespace, flow_id=flow_id, state=_state(final, when), revision=3)
    runs = [
        TaskRun(
            id=f"{execution_id}-t{n}",
            execution_id=execution_id,
            namespace=namespace,
            flow_id=flow_id,
            task_id=f"t{n}",
            state=_state(StateType.SUCCESS),
        )
        for n in range(2)
    ]
    topics, producer = Topics.of(kafka), Producer(kafka)
    mark = [(EXECUTION_HEADER, execution_id.encode())]
    for run in runs:
        change = TaskRunChange(revision=3, task_run=run)
        producer.send(topics.taskruns, run.id, change.to_json(), headers=mark)
    flow = [(FLOW_HEADER, b"{}")] if final != StateType.RUNNING else None
    producer.send(topics.executions, execution_id, execution.to_json(), headers=flow)
    producer.flush(10)
    line = LogEntry(
        namespace=namespace,
        flow_id=flow_id,
        execution_id=execution_id,
        task_id="t0",
        task_run_id=runs[0].id,
        level=LogLevel.INFO,
        message="a line",
        timestamp=DAY,
    )
    actions = [documents.execution_action(es.index_prefix, execution).bulk()]
    actions += [documents.taskrun_action(es.index_prefix, TaskRunChange(revision=3, task_run=r)).bulk() for r in runs]
    actions.append(documents.log_action(es.index_prefix, line, "logs", 0, abs(hash(execution_id)) % 10**9).bulk())
    client = elasticsearch_client(es)
    bulk(client, actions, refresh=True)
    client.close()


@pytest.fixture(scope="module")
def world(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[World]:
    prefix = f"t-del-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=2)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    client = elasticsearch_client(es)
    templates.install(client, es.index_prefix)
    client.close()
    with serving(kafka, es) as base, httpx.Client(base_url=base, timeout=60) as http:
        yield World(kafka, es, http)


def _indexed(world: World, execution_id: str) -> tuple[bool, int, int]:
    client = elasticsearch_client(world.es)
    try:
        found = get_execution(client, world.es.index_prefix, execution_id) is not None
        runs = client.count(index=templates.alias(world.es.index_prefix, templates.TASKRUNS),
                            query={"term": {"executionId": execution_id}})["count"]  # fmt: skip
        lines = len(search_logs(client, world.es.index_prefix, execution_id))
        return found, runs, lines
    finally:
        client.close()


def test_delete_an_ended_execution_keeping_its_logs(world: World) -> None:
    ended = f"ex-{uuid.uuid4().hex[:8]}"
    _seed(world.kafka, world.es, ended, StateType.FAILED)
    assert _indexed(world, ended) == (True, 2, 1)
    answer = world.http.delete(f"/api/v1/executions/{ended}", params={"deleteLogs": "false"}, headers=ADMIN_HEADERS)
    assert answer.status_code == 204, answer.text
    assert _indexed(world, ended) == (False, 0, 1)
    assert world.http.get(f"/api/v1/executions/{ended}", headers=ADMIN_HEADERS).status_code == 404
    with pytest.raises(UnknownExecution):
        control.latest_execution(world.kafka, ended)
    assert control.task_runs(world.kafka, ended) == []
    again = world.http.delete(f"/api/v1/executions/{ended}", headers=ADMIN_HEADERS)
    assert again.status_code == 404 and ended in again.json()["message"]


def test_bulk_delete_refuses_all_when_one_cannot_go(world: World) -> None:
    ended, running = f"ex-{uuid.uuid4().hex[:8]}", f"ex-{uuid.uuid4().hex[:8]}"
    _seed(world.kafka, world.es, ended, StateType.SUCCESS)
    _seed(world.kafka, world.es, running, StateType.RUNNING)
    path = "/api/v1/executions/by-ids"
    refused = world.http.request("DELETE", path, json=[ended, running, "nope"], headers=ADMIN_HEADERS)
    assert refused.status_code == 404, refused.text
    named = {e["executionId"]: e["message"] for e in refused.json()["errors"]}
    assert set(named) == {running, "nope"} and "RUNNING" in named[running] and named["nope"] == "execution not found"
    busy = world.http.request("DELETE", path, json=[ended, running], headers=ADMIN_HEADERS)
    assert busy.status_code == 409 and [e["executionId"] for e in busy.json()["errors"]] == [running], busy.text
    assert _indexed(world, ended) == (True, 2, 1)
    done = world.http.request(
        "DELETE", path, json=[ended, running], params={"includeNonTerminated": "true"}, headers=ADMIN_HEADERS
    )
    assert done.status_code == 200 and done.json() == {"count": 2}, done.text
    assert _indexed(world, ended) == (False, 0, 0) and _indexed(world, running) == (False, 0, 0)
    too_many = world.http.request("DELETE", path, json=[f"x{n}" for n in range(101)], headers=ADMIN_HEADERS)
    assert too_many.status_code == 422 and "body" in too_many.text


def test_delete_by_query_refuses_running_ones_and_is_bounded(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    flow_id = f"f{uuid.uuid4().hex[:8]}"
    seeded = {f"{flow_id}-{n}": final for n, final in enumerate([StateType.SUCCESS] * 2 + [StateType.FAILED])}
    seeded[f"{flow_id}-run"] = StateType.RUNNING
    for execution_id, final in seeded.items():
        _seed(world.kafka, world.es, execution_id, final, flow_id)
    path = "/api/v1/executions/by-query"

    def delete(**params: str) -> httpx.Response:
        return world.http.request("DELETE", path, params=params, headers=ADMIN_HEADERS)

    busy = delete(namespace="team.d", flowId=flow_id)
    assert busy.status_code == 409, busy.text
    assert [e["executionId"] for e in busy.json()["errors"]] == [f"{flow_id}-run"]
    assert all(_indexed(world, execution_id)[0] for execution_id in seeded)  # nothing deleted
    monkeypatch.setattr(api_deletion, "QUERY_BOUND", 1)
    first = delete(flowId=flow_id, state="SUCCESS")
    assert first.status_code == 200 and first.json() == {"count": 1, "remaining": 1}, first.text
    second = delete(flowId=flow_id, state="SUCCESS")
    assert second.json() == {"count": 1, "remaining": 0}
    assert not _indexed(world, f"{flow_id}-0")[0] and not _indexed(world, f"{flow_id}-1")[0]
    monkeypatch.setattr(api_deletion, "QUERY_BOUND", api_deletion.MAX_IDS)
    rest = delete(flowId=flow_id, includeNonTerminated="true", deleteLogs="false")
    assert rest.json() == {"count": 2, "remaining": 0}, rest.text
    assert _indexed(world, f"{flow_id}-2") == (False, 0, 1) and _indexed(world, f"{flow_id}-run") == (False, 0, 1)
    with pytest.raises(UnknownExecution):
        control.latest_execution(world.kafka, f"{flow_id}-run")
    bad = delete(flowId=flow_id, state="NOPE")
    assert bad.status_code == 422 and "state" in bad.text


def test_the_executions_search_filters_by_parent_and_child_filter(world: World) -> None:
    """`triggerExecutionId` (the children of one execution) and `childFilter` (CHILD, MAIN), as the reference."""
    root = f"root-{uuid.uuid4().hex[:8]}"
    base = Execution(id=root, namespace="team.kids", flow_id="parent", state=_state(StateType.SUCCESS), revision=2)
    trigger = ExecutionTrigger(
        id="call", type="io.kestra.plugin.core.flow.Subflow", variables={"executionId": root, "taskRunId": "tr"}
    )
    kids = [base.model_copy(update={"id": f"{root}-{n}", "flow_id": "child", "trigger": trigger}) for n in range(2)]
    client = elasticsearch_client(world.es)
    bulk(client, [documents.execution_action(world.es.index_prefix, e).bulk() for e in (base, *kids)], refresh=True)
    client.close()

    def ids(**params: str) -> list[str]:
        answer = world.http.get(
            "/api/v1/executions/search", params={"namespace": "team.kids", **params}, headers=ADMIN_HEADERS
        )
        assert answer.status_code == 200, answer.text
        return sorted(e["id"] for e in answer.json()["results"])

    assert ids(triggerExecutionId=root) == [f"{root}-0", f"{root}-1"]
    assert ids(childFilter="CHILD") == [f"{root}-0", f"{root}-1"]
    assert ids(childFilter="MAIN") == [root]
    assert ids() == [root, f"{root}-0", f"{root}-1"]
    bad = world.http.get("/api/v1/executions/search", params={"childFilter": "NOPE"}, headers=ADMIN_HEADERS)
    assert bad.status_code == 422 and "childFilter" in bad.text


def test_search_and_delete_by_query_take_scope_and_time_range(world: World) -> None:
    """The reference's `scope` (SYSTEM: the system flow namespace `system`; USER: the others) and `timeRange`
    (started within that duration back from now), on the search and the deletion by query alike."""
    flow_id = f"s{uuid.uuid4().hex[:8]}"
    recent = datetime.now(UTC) - timedelta(hours=1)
    _seed(world.kafka, world.es, f"{flow_id}-sys", StateType.SUCCESS, flow_id, namespace="system")
    _seed(world.kafka, world.es, f"{flow_id}-old", StateType.SUCCESS, flow_id)
    _seed(world.kafka, world.es, f"{flow_id}-new", StateType.SUCCESS, flow_id, when=recent)

    def ids(**params: str | list[str]) -> list[str]:
        answer = world.http.get(
            "/api/v1/executions/search", params={"flowId": flow_id, **params}, headers=ADMIN_HEADERS
        )
        assert answer.status_code == 200, answer.text
        return sorted(e["id"] for e in answer.json()["results"])

    assert ids(scope="SYSTEM") == [f"{flow_id}-sys"]
    assert ids(scope="USER") == [f"{flow_id}-new", f"{flow_id}-old"]
    assert ids(scope=["USER", "SYSTEM"]) == ids() == [f"{flow_id}-new", f"{flow_id}-old", f"{flow_id}-sys"]
    assert ids(timeRange="P1D") == [f"{flow_id}-new"]
    assert ids(timeRange="PT1M") == []
    assert ids(timeRange="P1D", startDate="2024-01-01") == [f"{flow_id}-new"]  # both: the later start
    for wrong in ("soon", "PT", "P"):
        bad = world.http.get("/api/v1/executions/search", params={"timeRange": wrong}, headers=ADMIN_HEADERS)
        assert bad.status_code == 422 and "timeRange" in bad.text, bad.text
    bad_scope = world.http.get("/api/v1/executions/search", params={"scope": "ALL"}, headers=ADMIN_HEADERS)
    assert bad_scope.status_code == 422 and "scope" in bad_scope.text

    path = "/api/v1/executions/by-query"
    done = world.http.request(
        "DELETE", path, params={"flowId": flow_id, "scope": "USER", "timeRange": "P1D"}, headers=ADMIN_HEADERS
    )
    assert done.status_code == 200 and done.json() == {"count": 1, "remaining": 0}, done.text
    assert ids() == [f"{flow_id}-old", f"{flow_id}-sys"]
    done = world.http.request("DELETE", path, params={"flowId": flow_id, "scope": "SYSTEM"}, headers=ADMIN_HEADERS)
    assert done.json() == {"count": 1, "remaining": 0}, done.text
    assert ids() == [f"{flow_id}-old"]
    refused = world.http.request("DELETE", path, params={"flowId": flow_id, "timeRange": "x"}, headers=ADMIN_HEADERS)
    assert refused.status_code == 422 and "timeRange" in refused.text
    assert ids() == [f"{flow_id}-old"]
