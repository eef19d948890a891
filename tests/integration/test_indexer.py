"""The indexer on the real broker and the real Elasticsearch: newest revision wins whatever the order,
no duplicates on replay, poison messages dead-lettered, nothing committed while Elasticsearch is away,
and the Task Runs queries over what it wrote."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from elasticsearch import ApiError, Elasticsearch

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import LogEntry, MetricRecord, TaskRunChange
from conveyor.common.kafka.consumer import Consumer, Message
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Attempt, Execution, Label, MetricEntry, TaskRun
from conveyor.common.settings import ElasticsearchSettings, IndexerSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.indexer import queries
from conveyor.indexer.filters import TaskRunFilters
from conveyor.indexer.service import Indexer
from tests.integration.inprocess import serving
from tests.messages import headers_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

T = TypeVar("T")
MAY = datetime(2024, 5, 31, 23, 0, tzinfo=UTC)
S = StateType


def running(kafka: KafkaSettings, es: ElasticsearchSettings, **kw: Any) -> AbstractContextManager[Indexer]:
    settings = IndexerSettings(batch_size=100, flush_interval=0.2)
    indexer = Indexer(kafka, es, settings, backoff=(0.1, 0.5), lag_interval=1.0, stats_interval_ms=200, **kw)
    return serving(indexer, ready_timeout=60)


def eventually(check: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last: {value!r})")
        time.sleep(0.1)


def state(*steps: StateType, at: datetime = MAY, step: float = 1.5) -> State:
    return State(
        current=steps[-1],
        histories=[StateHistory(state=s, date=at + timedelta(seconds=i * step)) for i, s in enumerate(steps)],
    )


def task_run(tr_id: str, *steps: StateType, **kw: Any) -> TaskRun:
    fields: dict[str, Any] = dict(
        id=tr_id, execution_id="ex1", namespace="company.team", flow_id="hello", task_id="say", state=state(*steps)
    )
    fields.update(kw)
    return TaskRun.model_validate(fields)


class Topic:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.topics = Topics.of(kafka)
        self.producer = Producer(kafka)

    def taskrun(self, revision: int, tr: TaskRun, labels: list[Label] | None = None) -> None:
        change = TaskRunChange(revision=revision, task_run=tr, labels=labels or [])
        self.raw(self.topics.taskruns, tr.id, change.to_json())

    def execution(self, ex: Execution) -> None:
        self.raw(self.topics.executions, ex.id, ex.to_json())

    def raw(self, topic: str, key: str, value: bytes) -> None:
        self.producer.send(topic, key, value)

    def flush(self) -> None:
        self.producer.flush()


def dead_letters(kafka: KafkaSettings, count: int, timeout: float = 30.0) -> list[Message]:
    consumer = Consumer(kafka, f"{kafka.topic_prefix}test-dead-letters", [Topics.of(kafka).dead_letter])
    found: list[Message] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            found.extend(consumer.consume(10, 0.2))
    finally:
        consumer.close()
    assert len(found) >= count, f"expected {count} dead letters, got {len(found)}"
    return found


def headers(msg: Message) -> dict[str, str]:
    return {k: v.decode() for k, v in headers_of(msg).items()}


def docs(client: Elasticsearch, index: str, **query: Any) -> list[dict[str, Any]]:
    match = {"term": query} if query else {"match_all": {}}
    try:
        client.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
        response = client.search(index=index, size=100, ignore_unavailable=True, allow_no_indices=True, query=match)
    except ApiError as exc:
        # The indexer's first bulk is creating the index: its shard is not searchable for a moment.
        if exc.status_code == 503:
            return []
        raise
    return [{**h["_source"], "_index": h["_index"]} for h in response["hits"]["hits"]]


@pytest.fixture
def client(es_settings: ElasticsearchSettings) -> Iterator[Elasticsearch]:
    c = elasticsearch_client(es_settings)
    yield c
    c.close()


def test_newest_revision_wins_replays_do_not_regress_and_poison_is_dead_lettered(
    kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings, client: Elasticsearch
) -> None:
    p = es_settings.index_prefix
    out = Topic(kafka_settings)
    attempt = Attempt(state=state(S.RUNNING, S.SUCCESS), worker_id="w-1")
    revisions = {
        1: task_run("tr1", S.CREATED),
        2: task_run("tr1", S.CREATED, S.RUNNING, attempts=[attempt.model_copy(update={"state": state(S.RUNNING)})]),
        3: task_run("tr1", S.CREATED, S.RUNNING, S.SUCCESS, attempts=[attempt], outputs={"value": "hi"}),
    }
    execution = Execution(
        id="ex1",
        namespace="company.team",
        flow_id="hello",
        state=state(S.CREATED, S.RUNNING, S.SUCCESS),
        task_run_list=[revisions[3], task_run("tr2", S.CREATED, S.SUCCESS)],
        labels=[Label(key="env", value="prod")],
        revision=3,
    )

    with running(kafka_settings, es_settings) as indexer:
        # Out of order: the newest revision first, then the older ones, then a second task run.
        for revision in (3, 1, 2):
            out.taskrun(revision, revisions[revision])
        out.taskrun(2, task_run("tr2", S.CREATED, S.SUCCESS), labels=[Label(key="env", value="prod")])
        for revision in (3, 1, 2):
            out.execution(execution.model_copy(update={"revision": revision}))
        base = datetime(2024, 6, 2, 8, 0, tzinfo=UTC)
        lines = [("first", base), ("second", base), ("third", base + timedelta(milliseconds=1))]
        for text, when in lines:
            entry = LogEntry(
                namespace="company.team", flow_id="hello", execution_id="ex1", task_id="say", task_run_id="tr1",
                level="INFO", message=text, timestamp=when,
            )  # fmt: skip
            out.raw(out.topics.logs, "tr1", entry.to_json())
        metric = MetricRecord(
            namespace="company.team", flow_id="hello", execution_id="ex1", task_id="say", task_run_id="tr1",
            entry=MetricEntry(type="counter", name="rows", value=3, tags={"db": "main"}),
        )  # fmt: skip
        out.raw(out.topics.metrics, "tr1", metric.to_json())
        out.flush()

        def indexed() -> bool:
            trs = {d["id"]: d for d in docs(client, f"{p}-taskruns")}
            exs = docs(client, f"{p}-executions")
            return (
                trs.get("tr1", {}).get("revision") == 3
                and "tr2" in trs
                and bool(exs)
                and exs[0]["revision"] == 3
                and len(docs(client, f"{p}-logs")) == 3
                and len(docs(client, f"{p}-metrics")) == 1
            )

        eventually(indexed, what="every entity at its newest revision")

        # A replay of old revisions, then poison: undecodable messages and a document Elasticsearch refuses.
        # The poison comes last in the same partitions, so its dead letter proves the replay was handled.
        out.taskrun(1, revisions[1])
        out.taskrun(2, revisions[2])
        out.execution(execution.model_copy(update={"revision": 1}))
        out.raw(out.topics.taskruns, "tr1", b'{"revision": 4, "taskRun": "not a task run"}')
        out.raw(out.topics.executions, "ex1", b"\x00 not json")
        out.taskrun(5, task_run("x" * 600, S.CREATED))  # `_id` longer than Elasticsearch's 512 bytes
        out.flush()

        letters = dead_letters(kafka_settings, 3)
        eventually(lambda: sum(indexer.lag().values()) == 0 and indexer.lag(), what="no lag")

    reasons = sorted(headers(m)["conveyor.reason"] for m in letters)
    assert reasons[0].startswith("Elasticsearch rejected taskruns document xxx")
    assert "too long" in reasons[0]
    assert reasons[1].startswith("cannot decode a executions message")
    assert reasons[2].startswith("cannot decode a taskruns message: taskRun")
    assert {headers(m)["conveyor.service"] for m in letters} == {"indexer"}
    assert {m.key for m in letters} == {b"tr1", b"ex1", b"x" * 600}

    taskruns = docs(client, f"{p}-taskruns")
    assert sorted(d["id"] for d in taskruns) == ["tr1", "tr2"]  # one document per task run, no duplicate
    tr1 = next(d for d in taskruns if d["id"] == "tr1")
    assert tr1["_index"] == f"{p}-taskruns-2024.05"
    assert tr1["revision"] == 3 and tr1["state"]["current"] == "SUCCESS"
    assert tr1["state"]["durationMs"] == 3000 and tr1["state"]["duration"] == "PT3S"
    assert tr1["attemptsCount"] == 1 and tr1["workerId"] == "w-1" and tr1["outputs"] == {"value": "hi"}

    [ex] = docs(client, f"{p}-executions")
    assert ex["revision"] == 3 and ex["taskRunCount"] == 2 and "taskRunList" not in ex
    assert queries.get_execution(client, p, "ex1") == {k: v for k, v in ex.items() if not k.startswith("_")}
    assert queries.get_execution(client, p, "nope") is None
    assert queries.search_executions(client, p, labels={"env": "prod"}).total == 1
    assert queries.search_executions(client, p, labels={"env": "dev"}).total == 0
    # Task runs carry their execution's labels and filter by them (kestra#2048).
    found = queries.search_taskruns(client, p, TaskRunFilters(labels={"env": "prod"}))
    assert [d["id"] for d in found.results] == ["tr2"]
    assert queries.search_taskruns(client, p, TaskRunFilters(labels={"env": "dev"})).total == 0

    logs = queries.search_logs(client, p, "ex1")
    assert [line["message"] for line in logs] == ["first", "second", "third"]
    assert logs[0]["taskRunId"] == "tr1" and "offset" not in logs[0]
    assert queries.search_logs(client, p, "ex1", "other") == []

    [m] = docs(client, f"{p}-metrics")
    assert (m["name"], m["value"], m["tags"], m["taskRunId"]) == ("rows", 3.0, {"db": "main"}, "tr1")


def test_taskrun_queries_filter_sort_page_and_aggregate(
    kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings, client: Elasticsearch
) -> None:
    p = es_settings.index_prefix
    # Nothing indexed yet, not even the indices: empty answers, not errors.
    assert queries.search_taskruns(client, p) == queries.Page([], 0, None)
    assert queries.search_logs(client, p, "ex") == []
    empty = queries.daily_taskrun_stats(client, p, start="2024-05-01", end="2024-05-02")
    assert [d["startDate"] for d in empty] == ["2024-05-01", "2024-05-02"]

    out = Topic(kafka_settings)
    day = datetime(2024, 5, 10, 9, 0, tzinfo=UTC)
    specs = [
        # id, namespace, flow, final state, start, seconds
        ("a", "company.team", "hello", S.SUCCESS, day, 1),
        ("b", "company.team", "hello", S.FAILED, day + timedelta(hours=1), 2),
        ("c", "company.team.sub", "hello", S.SUCCESS, day + timedelta(days=1), 3),
        ("d", "company.team.sub", "other", S.WARNING, day + timedelta(days=1, hours=1), 4),
        ("e", "company.teamx", "hello", S.SUCCESS, day + timedelta(days=3), 5),
        ("f", "elsewhere", "hello", S.SUCCESS, day + timedelta(days=3), 6),
        ("g", "company.team", "hello", S.SUCCESS, day, 7),  # same start as "a": the id breaks the tie
    ]
    for tr_id, ns, flow, final, start, seconds in specs:
        tr = task_run(
            tr_id,
            S.CREATED,
            final,
            namespace=ns,
            flow_id=flow,
            execution_id=f"ex-{tr_id}",
            state=state(S.CREATED, final, at=start, step=seconds),
        )
        out.taskrun(1, tr)
    out.flush()

    with running(kafka_settings, es_settings):
        eventually(lambda: len(docs(client, f"{p}-taskruns")) == len(specs), what="every task run indexed")

    # The templates put every monthly index behind the read alias, with the explicit mapping.
    this_month = f"{p}-taskruns-{datetime.now(UTC):%Y.%m}"
    assert set(client.indices.get_alias(name=f"{p}-taskruns")) == {f"{p}-taskruns-2024.05", this_month}
    mapping = client.indices.get_mapping(index=f"{p}-taskruns-2024.05")[f"{p}-taskruns-2024.05"]["mappings"]
    assert mapping["dynamic"] == "false"
    assert mapping["properties"]["state"]["properties"]["durationMs"] == {"type": "long"}

    def ids(**kw: Any) -> list[str]:
        return [r["id"] for r in queries.search_taskruns(client, p, size=100, **kw).results]

    assert ids() == ["e", "f", "d", "c", "b", "a", "g"]  # newest start first, then id
    assert ids(namespace="company.team") == ["d", "c", "b", "a", "g"]  # sub-namespaces, not company.teamx
    assert ids(namespace="company.team", flow_id="hello") == ["c", "b", "a", "g"]
    assert ids(state=["FAILED", "WARNING"]) == ["d", "b"]
    assert ids(execution_id="ex-c") == ["c"]
    assert ids(q="TEAMX") == ["e"]
    assert ids(start="2024-05-11T00:00:00Z", end=datetime(2024, 5, 12, tzinfo=UTC)) == ["d", "c"]
    assert ids(sort="duration:desc") == ["g", "f", "e", "d", "c", "b", "a"]

    # Paging with search_after walks the same order, without gaps or repeats.
    seen, cursor, pages = [], None, 0
    while True:
        page = queries.search_taskruns(client, p, size=2, search_after=cursor)
        assert page.total == len(specs)
        seen += [r["id"] for r in page.results]
        pages += 1
        cursor = page.next
        if cursor is None:
            break
    assert seen == ids() and pages == 4

    # A list page's count stops at a limit: the total is then a floor, the page and its cursor the same.
    exact = queries.search_taskruns(client, p, size=2)
    floor = queries.search_taskruns(client, p, size=2, total_limit=3)
    assert (floor.total, floor.exact, exact.total, exact.exact) == (3, False, len(specs), True)
    assert (floor.results, floor.next) == (exact.results, exact.next)
    assert queries.search_taskruns(client, p, size=2, total_limit=len(specs)).exact

    result = queries.search_taskruns(client, p, task_id="say", size=1).results[0]
    assert {"id", "executionId", "namespace", "flowId", "taskId", "state", "attemptsCount", "revision"} <= set(result)

    stats = queries.daily_taskrun_stats(client, p, start="2024-05-09", end="2024-05-13", namespace="company.team")
    assert [d["startDate"] for d in stats] == ["2024-05-09", "2024-05-10", "2024-05-11", "2024-05-12", "2024-05-13"]
    may10, may11 = stats[1], stats[2]
    assert (may10["counts"]["SUCCESS"], may10["counts"]["FAILED"], may10["counts"]["RUNNING"]) == (2, 1, 0)
    assert may10["duration"] == {"count": 3, "min": 1000.0, "avg": 10000 / 3, "max": 7000.0, "sum": 10000.0}
    assert (may11["counts"]["SUCCESS"], may11["counts"]["WARNING"]) == (1, 1)
    assert stats[0]["duration"]["count"] == 0 and stats[3]["counts"]["SUCCESS"] == 0


class Outage:
    """A TCP relay in front of the real Elasticsearch that the test can cut and restore."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").rstrip("/").split(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._up = threading.Event()
        self._up.set()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                conn.close()
                continue
            upstream = socket.create_connection(self._upstream)
            self._open += [conn, upstream]
            threading.Thread(target=self._pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, conn), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self._up.clear()
        for s in self._open:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self._open = []

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self.cut()
        self._listener.close()


def test_nothing_is_committed_while_elasticsearch_is_away(
    kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings, client: Elasticsearch
) -> None:
    p = es_settings.index_prefix
    relay = Outage(es_settings.url)
    relayed = es_settings.model_copy(update={"url": relay.url})
    out = Topic(kafka_settings)
    try:
        with running(kafka_settings, relayed) as indexer:
            relay.cut()
            for i in range(20):
                out.taskrun(1, task_run(f"tr{i}", S.CREATED, S.RUNNING))
            out.flush()
            # Read but not written: the lag holds at 20 (nothing committed) and no document exists.
            eventually(lambda: sum(indexer.lag().values()) == 20, what="lag of 20")
            time.sleep(1.5)  # several failed bulks and backoffs
            assert sum(indexer.lag().values()) == 20
            assert docs(client, f"{p}-taskruns") == []

            relay.restore()
            eventually(lambda: len(docs(client, f"{p}-taskruns")) == 20, what="the batch written once back")
            eventually(lambda: indexer.lag() and sum(indexer.lag().values()) == 0, what="offsets committed")
    finally:
        relay.close()
