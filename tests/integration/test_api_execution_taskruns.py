"""One execution's task runs for its page, on the real Elasticsearch: a page at any position of the start order
(deep positions found by counting, with ties in one millisecond), the same
order and cursor as the task-run search, and the counts per task id and state; over HTTP, a viewer of
another namespace gets the unknown execution's 404 and bad parameters are 4xx by name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import TaskRunChange
from conveyor.common.model import Execution, TaskRun
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.indexer import documents, execution_taskruns, queries, templates
from tests.apiserver import ADMIN_AUTH, PASSWORD, auth_with, serving, user

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

START = datetime(2024, 6, 1, 9, tzinfo=UTC)
COUNT = 60  # positions 20..29 share one millisecond, and so do 50..59 (CREATED)


def _run(n: int) -> TaskRun:
    ms = 20 if 20 <= n < 30 else 50 if n >= 50 else n
    start = START + timedelta(milliseconds=ms)
    final = StateType.CREATED if n >= 50 else StateType.FAILED if n % 7 == 0 else StateType.SUCCESS
    state = State(current=final, histories=[StateHistory(state=StateType.CREATED, date=start)])
    return TaskRun(
        id=f"tr-{n:03d}",
        execution_id="ex-wide",
        namespace="pos.a",
        flow_id="wide",
        task_id="first" if n == 0 else "each",
        value=str(n),
        state=state,
    )


@dataclass
class World:
    es: Elasticsearch
    prefix: str
    http: httpx.Client
    order: list[str]  # the ids in start order, as the task-run search reads them


@pytest.fixture(scope="module")
def world(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[World]:
    prefix = f"t-pos-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=1)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    client = elasticsearch_client(es)
    templates.install(client, prefix)
    runs = [documents.taskrun_action(prefix, TaskRunChange(revision=1, task_run=_run(n))).bulk() for n in range(COUNT)]
    running = State(current=StateType.RUNNING, histories=[StateHistory(state=StateType.RUNNING, date=START)])
    execution = Execution(id="ex-wide", namespace="pos.a", flow_id="wide", state=running)
    bulk(client, [*runs, documents.execution_action(prefix, execution).bulk()], refresh=True)
    order: list[str] = []
    cursor = None
    while True:
        page = queries.search_taskruns(
            client, prefix, execution_id="ex-wide", sort="state.startDate:asc", size=7, search_after=cursor
        )
        order += [r["id"] for r in page.results]
        if page.next is None:
            break
        cursor = page.next
    auth = auth_with({"other": user("viewer@pos.b")})
    with serving(kafka, es, auth=auth) as base, httpx.Client(base_url=base, timeout=60, auth=ADMIN_AUTH) as http:
        yield World(client, prefix, http, order)
    client.close()


def test_the_order_is_start_date_then_id(world: World) -> None:
    assert len(world.order) == COUNT
    assert world.order[20:30] == [f"tr-{n:03d}" for n in range(20, 30)]  # one millisecond: by id
    assert world.order[50:] == [f"tr-{n:03d}" for n in range(50, 60)]


@pytest.mark.parametrize("offset", [0, 3, 11, 16, 19, 20, 24, 29, 30, 31, 49, 50, 55, 59])
def test_a_page_at_any_position_is_the_searchs_page_there(world: World, offset: int) -> None:
    # window 16: from offset 12 on, found by counting (the way to a position past 10,000 in production)
    # 3 slices a round: the start date is narrowed over several rounds (1,000 slices in production)
    page = execution_taskruns.page_at(world.es, world.prefix, "ex-wide", offset, 4, window=16, buckets=3)
    assert page.total == COUNT and page.offset == offset
    assert [r["id"] for r in page.results] == world.order[offset : offset + 4]
    if offset + 4 < COUNT:  # the search's cursor pages on from there
        assert page.next is not None
        after = queries.search_taskruns(
            world.es, world.prefix, execution_id="ex-wide", sort="state.startDate:asc", size=3, search_after=page.next
        )
        assert [r["id"] for r in after.results] == world.order[offset + 4 : offset + 7]
    else:
        assert page.next is None


def test_a_tie_deeper_than_the_window_starts_where_it_can(world: World) -> None:
    # window 4, size 2: within the ten task runs of one millisecond only skip <= 1 is reachable
    page = execution_taskruns.page_at(world.es, world.prefix, "ex-wide", 27, 2, window=4)
    assert page.offset == 21 and [r["id"] for r in page.results] == world.order[21:23]


def test_past_the_end_is_empty(world: World) -> None:
    page = execution_taskruns.page_at(world.es, world.prefix, "ex-wide", COUNT, 10)
    assert page.results == [] and page.total == COUNT and page.next is None


def test_counts_per_task_and_state_over_every_task_run(world: World) -> None:
    answer = world.http.get("/api/v1/executions/ex-wide/taskruns/counts")
    assert answer.status_code == 200, answer.text
    failed = sum(1 for n in range(1, 50) if n % 7 == 0)
    assert answer.json() == {
        "total": COUNT,
        "tasks": {"each": {"SUCCESS": 49 - failed, "FAILED": failed, "CREATED": 10}, "first": {"FAILED": 1}},
    }


def test_over_http_by_position_and_refused_like_an_unknown_execution(world: World) -> None:
    answer = world.http.get("/api/v1/executions/ex-wide/taskruns", params={"offset": 45, "size": 10})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["offset"] == 45 and body["total"] == COUNT and body["next"] is not None
    assert [r["id"] for r in body["results"]] == world.order[45:55]
    for path in ("/api/v1/executions/ex-wide/taskruns", "/api/v1/executions/ex-wide/taskruns/counts"):
        other = world.http.get(path, auth=("other", PASSWORD))
        assert other.status_code == 404, other.text
        assert world.http.get(path.replace("ex-wide", "ex-none")).status_code == 404
    bad = world.http.get("/api/v1/executions/ex-wide/taskruns", params={"offset": -1})
    assert bad.status_code == 422 and "offset" in bad.text
    too_big = world.http.get("/api/v1/executions/ex-wide/taskruns", params={"size": 5000})
    assert too_big.status_code == 422 and "size" in too_big.text
