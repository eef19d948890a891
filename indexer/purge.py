"""The Elasticsearch side of deleting executions (`common.deletion`): their documents, their task runs', and,
when asked, their log lines and metrics, by a query over every monthly index (a document's month is not known
from its id). Called by the API and the CLI when they delete, and by the indexer when it reads an
`executions` tombstone (the documents it indexed since are deleted too)."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk

from conveyor.indexer.templates import EXECUTIONS, LOGS, METRICS, TASKRUNS, index_pattern

# The most executions one query names (a `terms` query's sensible size), and documents one bulk deletes.
CHUNK = 1_000
PAGE = 1_000


def delete_documents(
    client: Elasticsearch,
    prefix: str,
    execution_ids: list[str],
    *,
    logs: bool = True,
    metrics: bool = True,
) -> int:
    """Delete the executions' documents; how many were deleted. They are gone from searches on return."""
    deleted = 0
    for start in range(0, len(execution_ids), CHUNK):
        ids = execution_ids[start : start + CHUNK]
        deleted += _delete(client, index_pattern(prefix, EXECUTIONS), {"ids": {"values": ids}})
        by_execution = {"terms": {"executionId": ids}}
        kinds = [TASKRUNS, *([LOGS] if logs else []), *([METRICS] if metrics else [])]
        for kind in kinds:
            deleted += _delete(client, index_pattern(prefix, kind), by_execution)
    return deleted


def _delete(client: Elasticsearch, index: str, query: dict[str, Any]) -> int:
    """Search a page of matching documents, delete them in one bulk, again until a page is not full. (No
    `_delete_by_query`: the reindex module it needs is not in every distribution, e.g. the tests'.) Each
    bulk refreshes, so the next search no longer sees what it deleted."""
    deleted = 0
    while True:
        found = client.search(
            index=index,
            query=query,
            size=PAGE,
            source=False,
            allow_no_indices=True,
            ignore_unavailable=True,
            expand_wildcards="open",
        )
        hits = found["hits"]["hits"]
        if hits:
            actions = [{"_op_type": "delete", "_index": hit["_index"], "_id": hit["_id"]} for hit in hits]
            ok, _ = bulk(client, actions, refresh=True, raise_on_error=False, stats_only=True)
            deleted += int(ok)
        if len(hits) < PAGE:
            return deleted
