"""The server-sent-event routes on the real Kafka and Elasticsearch: `GET /api/v1/logs/{id}/follow` streams an
execution's new log lines (level and task-run filters), `GET /api/v1/executions/{id}/follow` its task-run and
execution changes, both end after the execution ended; the one live feed fans a record out to every stream
of its execution and drops a subscriber that does not read, without holding up the others."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from elasticsearch.helpers import bulk

from conveyor.api import live
from conveyor.api.live import LiveFeed
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import LogEntry, TaskRunChange
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution, TaskRun
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer import documents, templates
from tests.apiserver import ADMIN_HEADERS, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

DAY = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _state(*steps: StateType) -> State:
    return State(
        current=steps[-1],
        histories=[StateHistory(state=s, date=DAY + timedelta(seconds=i)) for i, s in enumerate(steps)],
    )


def _execution(execution_id: str, *steps: StateType, revision: int = 1) -> Execution:
    return Execution(id=execution_id, namespace="live", flow_id="f", state=_state(*steps), revision=revision)


def _line(execution_id: str, message: str, level: LogLevel = LogLevel.INFO, task_run_id: str = "tr-1") -> LogEntry:
    return LogEntry(
        namespace="live",
        flow_id="f",
        execution_id=execution_id,
        task_id="t",
        task_run_id=task_run_id,
        level=level,
        message=message,
        timestamp=DAY,
    )


class Stream:
    """An SSE stream read in a thread: its (event, data) pairs as they arrive."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.events: list[tuple[str, Any]] = []
        self.status = 0
        self.ready = threading.Event()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(client, path), daemon=True)
        self._thread.start()

    def _read(self, client: httpx.Client, path: str) -> None:
        try:
            with client.stream("GET", path, headers=ADMIN_HEADERS, timeout=60) as answer:
                self.status = answer.status_code
                self.content_type = answer.headers.get("content-type", "")
                kind = ""
                for text in answer.iter_lines():
                    if text.startswith("event: "):
                        kind = text[len("event: ") :]
                    elif text.startswith("data: "):
                        self.events.append((kind, json.loads(text[len("data: ") :])))
                        if kind == "ready":
                            self.ready.set()
        finally:
            self.ready.set()
            self.done.set()

    def of(self, kind: str) -> list[Any]:
        return [data for k, data in self.events if k == kind]


def _indexed(es: ElasticsearchSettings, execution: Execution) -> None:
    """The execution as the indexer would have written it (the streams follow indexed executions)."""
    client = elasticsearch_client(es)
    templates.install(client, es.index_prefix)
    bulk(client, [documents.execution_action(es.index_prefix, execution).bulk()], refresh=True)
    client.close()


@pytest.fixture
def api(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> Iterator[httpx.Client]:
    with serving(kafka_settings, es_settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_log_lines_stream_until_the_execution_ends(
    api: httpx.Client, kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings
) -> None:
    topics = Topics.of(kafka_settings)
    producer = Producer(kafka_settings)
    _indexed(es_settings, _execution("ex-live", StateType.CREATED, StateType.RUNNING))
    warn = Stream(api, "/api/v1/logs/ex-live/follow?minLevel=WARN")
    every = Stream(api, "/api/v1/logs/ex-live/follow")
    one_run = Stream(api, "/api/v1/logs/ex-live/follow?taskRunId=tr-2")
    for stream in (warn, every, one_run):
        assert stream.ready.wait(30) and stream.status == 200, stream.events
        assert stream.content_type.startswith("text/event-stream")

    producer.send(topics.logs, "tr-1", _line("ex-live", "first").to_json())
    producer.send(topics.logs, "tr-x", _line("ex-other", "not mine").to_json())
    producer.send(topics.logs, "tr-2", _line("ex-live", "careful", LogLevel.WARN, "tr-2").to_json())
    ended = _execution("ex-live", StateType.CREATED, StateType.RUNNING, StateType.SUCCESS, revision=2)
    producer.send(topics.executions, "ex-live", ended.to_json())
    producer.flush(10)
    for stream in (warn, every, one_run):
        assert stream.done.wait(30), stream.events
        assert stream.events[-1][0] == "end"
    assert [line["message"] for line in every.of("log")] == ["first", "careful"]
    assert [line["message"] for line in warn.of("log")] == ["careful"]
    assert [line["message"] for line in one_run.of("log")] == ["careful"]
    assert every.of("log")[0]["executionId"] == "ex-live" and every.of("log")[0]["level"] == "INFO"
    assert every.of("execution") == []  # the logs stream carries log lines only


def test_changes_stream_task_runs_and_the_execution(
    api: httpx.Client, kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings
) -> None:
    topics = Topics.of(kafka_settings)
    producer = Producer(kafka_settings)
    _indexed(es_settings, _execution("ex-ch", StateType.CREATED, StateType.RUNNING))
    stream = Stream(api, "/api/v1/executions/ex-ch/follow")
    assert stream.ready.wait(30) and stream.status == 200
    run = TaskRun(
        id="tr-a", execution_id="ex-ch", namespace="live", flow_id="f", task_id="a", state=_state(StateType.RUNNING)
    )
    producer.send(topics.taskruns, "tr-a", TaskRunChange(revision=2, task_run=run).to_json())
    ended = _execution("ex-ch", StateType.CREATED, StateType.RUNNING, StateType.FAILED, revision=3)
    producer.send(topics.executions, "ex-ch", ended.to_json())
    producer.send(topics.logs, "tr-a", _line("ex-ch", "a log line").to_json())
    producer.flush(10)
    assert stream.done.wait(30), stream.events
    assert [r["id"] for r in stream.of("taskrun")] == ["tr-a"]
    assert stream.of("taskrun")[0]["state"]["current"] == "RUNNING" and stream.of("taskrun")[0]["attemptsCount"] == 0
    assert [e["state"]["current"] for e in stream.of("execution")] == ["FAILED"]
    assert stream.of("log") == [] and stream.events[-1][0] == "end"


def test_an_ended_or_unknown_execution(api: httpx.Client, es_settings: ElasticsearchSettings) -> None:
    _indexed(es_settings, _execution("ex-done", StateType.CREATED, StateType.RUNNING, StateType.SUCCESS))
    answer = api.get("/api/v1/logs/ex-done/follow", headers=ADMIN_HEADERS)
    assert answer.status_code == 200
    assert [line for line in answer.text.splitlines() if line.startswith("event:")] == ["event: ready", "event: end"]
    unknown = api.get("/api/v1/executions/nope/follow", headers=ADMIN_HEADERS)
    assert unknown.status_code == 404 and "nope" in unknown.json()["message"]
    assert api.get("/api/v1/logs/ex-done/follow").status_code == 401


def test_one_feed_fans_out_and_drops_a_slow_subscriber(
    kafka_settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "QUEUE_SIZE", 5)
    topics = Topics.of(kafka_settings)
    feed = LiveFeed(kafka_settings)
    producer = Producer(kafka_settings)

    async def scenario() -> tuple[list[str], list[str], bool, bool]:
        loop = asyncio.get_running_loop()
        reader = await asyncio.to_thread(feed.subscribe, "ex-fan", frozenset({"log"}), loop)
        stalled = await asyncio.to_thread(feed.subscribe, "ex-fan", frozenset({"log"}), loop)
        other = await asyncio.to_thread(feed.subscribe, "ex-else", frozenset({"log"}), loop)
        assert feed.subscribers == 3
        got: list[str] = []
        for n in range(8):  # one at a time, read as they come: this one keeps up
            producer.send(topics.logs, f"tr-{n}", _line("ex-fan", f"line {n}").to_json())
            producer.flush(10)
            _, doc = await asyncio.wait_for(reader.queue.get(), timeout=30)
            got.append(doc["message"])
        # the stalled one never read: past 5 waiting it is dropped, its queue holds only the overflow
        dropped = [(await stalled.queue.get())[0] for _ in range(stalled.queue.qsize())]
        feed.unsubscribe(reader)
        feed.unsubscribe(stalled)
        feed.unsubscribe(other)
        return got, dropped, stalled.dropped, other.queue.empty()

    try:
        got, dropped, was_dropped, other_empty = asyncio.run(scenario())
    finally:
        feed.close()
    assert got == [f"line {n}" for n in range(8)]
    assert was_dropped and dropped[-1] == "overflow"
    assert other_empty
    assert feed.subscribers == 0
