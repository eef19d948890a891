"""Unqueue on the real Kafka and Elasticsearch, with an executor and its slot keeper, a worker, the indexer and
the server in-process: a limit-1 flow with one execution running and four QUEUED. `conveyor unqueue ID`
starts one at once, past the limit; `POST .../unqueue/by-ids` is all or nothing (409 naming one not QUEUED,
404 for an unknown one); `POST .../unqueue/by-query` starts the QUEUED ones the filters match, once the index
shows them. From the recorded dates the unqueued executions ran beside the holder, and the keeper still
counts them: a newcomer after them waits QUEUED until they end."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from conveyor.cli.main import main
from conveyor.common.settings import ElasticsearchSettings, IndexerSettings, KafkaSettings
from conveyor.common.state import StateType
from conveyor.indexer.service import Indexer
from tests.apiserver import ADMIN_AUTH, serving
from tests.concurrency import first, most_at_once
from tests.integration import inprocess
from tests.integration.inprocess import ended
from tests.integration.test_concurrency import kill, limited, reached, services, submit

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
S = StateType


def until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "never came"
        time.sleep(0.3)


def test_unqueue_one_by_ids_and_by_query_runs_them_past_the_limit(
    kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings
) -> None:
    flow = limited("unqueued", 1, "QUEUE", duration="PT60S")
    threads = services(kafka_settings, pairs=1)
    indexer = Indexer(kafka_settings, es_settings, IndexerSettings(flush_interval=0.2), backoff=(0.1, 0.5))
    everyone: list[str] = []
    try:
        with inprocess.serving(indexer, ready_timeout=60), serving(kafka_settings, es_settings) as base:
            http = httpx.Client(base_url=base, timeout=30, auth=ADMIN_AUTH)
            [holder] = submit(kafka_settings, flow, 1)
            reached(kafka_settings, [holder], {S.RUNNING})
            waiting = submit(kafka_settings, flow, 4)
            everyone = [holder, *waiting]
            reached(kafka_settings, waiting, {S.QUEUED})
            one, two, three, four = waiting

            # the CLI: one id; an execution not QUEUED is refused, naming it, and nothing is sent
            flags = ["--bootstrap", kafka_settings.bootstrap, "--topic-prefix", kafka_settings.topic_prefix]
            assert main([*flags, "unqueue", holder]) == 2
            assert main([*flags, "unqueue", one]) == 0
            reached(kafka_settings, [one], {S.RUNNING})

            # by ids: all or nothing
            refused = http.post("/api/v1/executions/unqueue/by-ids", json=[two, holder])
            assert refused.status_code == 409, refused.text
            assert [e["executionId"] for e in refused.json()["errors"]] == [holder]
            unknown = http.post("/api/v1/executions/unqueue/by-ids", json=[two, "no-such-execution"])
            assert unknown.status_code == 404, unknown.text
            single = http.post(f"/api/v1/executions/{holder}/unqueue")
            assert single.status_code == 409 and "only a QUEUED execution" in single.text
            done = http.post("/api/v1/executions/unqueue/by-ids", json=[two])
            assert done.status_code == 202 and done.json() == {"count": 1}, done.text
            reached(kafka_settings, [two], {S.RUNNING})

            # by query: the QUEUED ones the index shows (a state filter is replaced by QUEUED)
            query = {"namespace": "conveyor.tests", "flowId": "unqueued", "state": "RUNNING"}

            def indexed_queued() -> bool:
                params = {"namespace": "conveyor.tests", "flowId": "unqueued", "state": "QUEUED"}
                found = http.get("/api/v1/executions/search", params=params).json()
                return {e["id"] for e in found["results"]} == {three, four}

            until(indexed_queued)
            answered = http.post("/api/v1/executions/unqueue/by-query", params=query)
            assert answered.status_code == 202, answered.text
            assert answered.json() == {"count": 2, "skipped": 0, "remaining": 0}
            reached(kafka_settings, [three, four], {S.RUNNING})

            # the keeper counts the unqueued ones: a newcomer waits
            [late] = submit(kafka_settings, flow, 1)
            everyone.append(late)
            reached(kafka_settings, [late], {S.QUEUED})
            http.close()
    finally:
        for execution_id in everyone:
            kill(kafka_settings, execution_id)
        found = ended(kafka_settings, everyone, timeout=90)
        threads.close()
    assert not threads.failures, threads.failures
    assert most_at_once(found[e] for e in everyone[:5]) == 5  # the holder and the four unqueued, at once
    for execution_id in (one, two, three, four):
        assert [h.state for h in found[execution_id].state.histories][:3] == [S.CREATED, S.QUEUED, S.RUNNING]
    assert first(found[late], S.RUNNING) is None or first(found[late], S.QUEUED) is not None
