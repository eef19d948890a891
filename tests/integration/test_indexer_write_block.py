"""Elasticsearch refusing writes (the flood-stage `read_only_allow_delete` block, a write block set through
the API) on the real server: the indexer holds its batch, drops nothing, commits nothing, says why once (its
log, `/readyz`, `conveyor status`'s probe), and catches up when the block is released."""

from __future__ import annotations

import logging
import time

import pytest
from elasticsearch import Elasticsearch

from conveyor.cli.probes import elasticsearch_write_block
from conveyor.common import readiness
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.observability import Health
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import StateType
from tests.integration.test_indexer import Topic, docs, eventually, running, task_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

S = StateType
BLOCKS = ["index.blocks.read_only_allow_delete", "index.blocks.write"]


@pytest.mark.parametrize("block", BLOCKS)
def test_a_write_block_holds_everything_says_why_once_and_catches_up_when_released(
    block: str,
    kafka_settings: KafkaSettings,
    es_settings: ElasticsearchSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="conveyor.indexer")
    p = es_settings.index_prefix
    client: Elasticsearch = elasticsearch_client(es_settings)
    out = Topic(kafka_settings)
    try:
        with running(kafka_settings, es_settings) as indexer:
            for i in range(20):
                out.taskrun(1, task_run(f"tr{i}", S.CREATED, S.RUNNING))
            out.flush()
            eventually(lambda: len(docs(client, f"{p}-taskruns")) == 20, what="the first 20 indexed")
            assert elasticsearch_write_block(es_settings) is None

            client.indices.put_settings(index=f"{p}-*", settings={block: True})
            try:
                for i in range(20):  # newer revisions of the first ones, and new ones
                    out.taskrun(2, task_run(f"tr{i}", S.CREATED, S.RUNNING, S.SUCCESS))
                for i in range(20, 30):
                    out.taskrun(1, task_run(f"tr{i}", S.CREATED, S.RUNNING))
                out.flush()
                eventually(lambda: readiness.reasons(), what="the indexer not ready")
                (reason,) = readiness.reasons()
                assert "cluster_block_exception" in reason, reason
                report = Health(60.0, polls=False).report()
                assert not report["ready"] and report["notReadyBecause"] == [reason]
                probe = elasticsearch_write_block(es_settings)
                assert probe is not None and f"{block}=true" in probe, probe
                time.sleep(4)  # several tries refused
                assert sum(indexer.lag().values()) == 30, indexer.lag()  # nothing committed, nothing dropped
                assert len(docs(client, f"{p}-taskruns")) == 20
            finally:
                client.indices.put_settings(index=f"{p}-*", settings={block: None})

            def caught_up() -> bool:
                found = {d["id"]: d["state"]["current"] for d in docs(client, f"{p}-taskruns")}
                return len(found) == 30 and all(found[f"tr{i}"] == "SUCCESS" for i in range(20))

            eventually(caught_up, timeout=60, what="every task run in its last state")
            eventually(lambda: indexer.lag() and sum(indexer.lag().values()) == 0, what="offsets committed")
            assert readiness.reasons() == []
        refused = [r for r in caplog.records if "refuses writes" in r.getMessage() and r.levelno >= logging.ERROR]
        assert len(refused) == 1, [r.getMessage() for r in refused]
        assert "nothing is dropped" in refused[0].getMessage()
        assert sum("accepts writes again" in r.getMessage() for r in caplog.records) == 1
    finally:
        client.close()
