"""Index templates, index names and read aliases for the four kinds of documents.

Every kind is written to monthly indices, `{prefix}-{kind}-YYYY.MM`, and read through the alias
`{prefix}-{kind}` that the index template attaches to each new monthly index:

    {prefix}-executions   one document per execution   (month of its first state history date)
    {prefix}-taskruns     one document per task run    (month of its first state history date)
    {prefix}-logs         one document per log line    (month of its timestamp)
    {prefix}-metrics      one document per metric      (month of its timestamp)
    {prefix}-audit        one document per audit record (month of its timestamp; `common/audit.py`)

The month comes from a date that never changes for an entity, so every revision of a document lands in
the same index and external versioning (`version=revision`) can refuse an older one.

Templates are composable: `{prefix}-settings` (1 shard, 0 replicas or 1 on a cluster: `replicas_for`,
refresh 1s) and `{prefix}-state`
(the `state` object shared by executions and task runs) are component templates; each kind's index
template adds its own mappings. Mappings are explicit with `dynamic: false` at the top: a field not
listed here is kept in `_source` but not indexed. Durations are indexed as `state.durationMs`, a long
number of milliseconds; `state.duration` keeps the reference's ISO-8601 string, stored but not indexed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, BadRequestError, Elasticsearch

from conveyor.indexer.errors import TemplateError

log = logging.getLogger(__name__)

EXECUTIONS = "executions"
TASKRUNS = "taskruns"
LOGS = "logs"
METRICS = "metrics"
AUDIT = "audit"
KINDS = (EXECUTIONS, TASKRUNS, LOGS, METRICS, AUDIT)

# Bumped whenever a mapping changes; stored in each template's `_meta`.
VERSION = 1
# Above the built-in templates (`logs-*-*` and `metrics-*-*` are at 100).
PRIORITY = 200

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_STORED_ONLY = {"type": "object", "enabled": False}

SETTINGS = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "refresh_interval": "1s",
}

STATE = {
    "properties": {
        "state": {
            "properties": {
                "current": _KEYWORD,
                "startDate": _DATE,
                "endDate": _DATE,
                "durationMs": {"type": "long"},
                "histories": _STORED_ONLY,
            }
        }
    }
}

MAPPINGS: dict[str, dict[str, Any]] = {
    TASKRUNS: {
        "id": _KEYWORD,
        "executionId": _KEYWORD,
        "namespace": _KEYWORD,
        "flowId": _KEYWORD,
        "taskId": _KEYWORD,
        "parentTaskRunId": _KEYWORD,
        # A ForEach value can be any JSON; a long one is kept but not searchable.
        "value": {"type": "keyword", "ignore_above": 4096},
        "iteration": {"type": "integer"},
        "workerId": _KEYWORD,
        "attemptsCount": {"type": "integer"},
        "attempts": _STORED_ONLY,
        "outputs": _STORED_ONLY,
        "revision": {"type": "long"},
        "triggerId": _KEYWORD,
        "triggerExecutionId": _KEYWORD,
        "labels": {"type": "nested", "properties": {"key": _KEYWORD, "value": _KEYWORD}},
    },
    EXECUTIONS: {
        "id": _KEYWORD,
        "namespace": _KEYWORD,
        "flowId": _KEYWORD,
        "flowRevision": {"type": "integer"},
        "taskRunCount": {"type": "integer"},
        "labels": {"type": "nested", "properties": {"key": _KEYWORD, "value": _KEYWORD}},
        "inputs": _STORED_ONLY,
        "outputs": _STORED_ONLY,
        "parentId": _KEYWORD,
        "originalId": _KEYWORD,
        "metadata": {"properties": {"attemptNumber": {"type": "integer"}, "originalCreatedDate": _DATE}},
        # The trigger that started the execution and the slot it fired for (its variables kept, not indexed).
        "trigger": {
            "properties": {
                "id": _KEYWORD,
                "type": _KEYWORD,
                "date": _DATE,
                "next": _DATE,
                "previous": _DATE,
                "variables": _STORED_ONLY,
            }
        },
        "triggerExecutionId": _KEYWORD,
        "revision": {"type": "long"},
    },
    LOGS: {
        "namespace": _KEYWORD,
        "flowId": _KEYWORD,
        "executionId": _KEYWORD,
        "taskId": _KEYWORD,
        "taskRunId": _KEYWORD,
        "attemptNumber": {"type": "integer"},
        "workerId": _KEYWORD,
        "level": _KEYWORD,
        "message": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "timestamp": _DATE,
        # Where the line was on the logs topic: the tiebreaker after `timestamp`.
        "partition": {"type": "integer"},
        "offset": {"type": "long"},
    },
    METRICS: {
        "namespace": _KEYWORD,
        "flowId": _KEYWORD,
        "executionId": _KEYWORD,
        "taskId": _KEYWORD,
        "taskRunId": _KEYWORD,
        "type": _KEYWORD,
        "name": _KEYWORD,
        "value": {"type": "double"},
        "tags": {"type": "flattened"},
        "timestamp": _DATE,
    },
    AUDIT: {
        "id": _KEYWORD,
        "timestamp": _DATE,
        "user": _KEYWORD,
        "action": _KEYWORD,
        "method": _KEYWORD,
        "path": _KEYWORD,
        "namespace": _KEYWORD,
        "flowId": _KEYWORD,
        "executionId": _KEYWORD,
        "client": _KEYWORD,
        "status": {"type": "integer"},
        "result": _KEYWORD,
        "detail": {"type": "text"},
    },
}

# Kinds whose documents carry a `state`.
_WITH_STATE = (EXECUTIONS, TASKRUNS)


def alias(prefix: str, kind: str) -> str:
    """The read alias over every monthly index of `kind`."""
    return f"{prefix}-{kind}"


def monthly_index(prefix: str, kind: str, date: datetime) -> str:
    """`{prefix}-{kind}-YYYY.MM`, the month of `date` in UTC (a naive date is taken as UTC)."""
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    elif date.utcoffset():
        date = date.astimezone(UTC)
    return f"{prefix}-{kind}-{date.year:04d}.{date.month:02d}"


def index_pattern(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}-*"


def component_templates(prefix: str, replicas: int = 0) -> dict[str, dict[str, Any]]:
    """Component template name -> its `template` body."""
    return {
        f"{prefix}-settings": {"settings": {"index": {**SETTINGS, "number_of_replicas": replicas}}},
        f"{prefix}-state": {"mappings": STATE},
    }


def index_template(prefix: str, kind: str) -> dict[str, Any]:
    """The body of the index template for `kind` (arguments of `indices.put_index_template`)."""
    composed_of = [f"{prefix}-settings"]
    if kind in _WITH_STATE:
        composed_of.append(f"{prefix}-state")
    return {
        "index_patterns": [index_pattern(prefix, kind)],
        "composed_of": composed_of,
        "priority": PRIORITY,
        "template": {
            "mappings": {"dynamic": False, "properties": MAPPINGS[kind]},
            "aliases": {alias(prefix, kind): {}},
        },
        "meta": {"managed_by": "conveyor", "version": VERSION},
    }


def replicas_for(client: Elasticsearch, replicas: int | None) -> int:
    """`replicas` if set, else 1 on a cluster of two data nodes or more (every document on two nodes, so one
    node lost loses none), else 0 (a replica could never be allocated: the cluster would stay yellow)."""
    if replicas is not None:
        return replicas
    return 1 if int(client.cluster.health()["number_of_data_nodes"]) >= 2 else 0


def install(client: Elasticsearch, prefix: str, replicas: int | None = None) -> None:
    """Put the component and index templates (idempotent: a PUT replaces), add any new mapping to the
    monthly indices that already exist (an upgrade needs no reindex for added fields), and create this
    month's indices if missing. `replicas`: see `replicas_for`.

    Connection errors propagate (the caller retries); a refusal raises `TemplateError`.
    """
    if not prefix or prefix != prefix.lower() or prefix.startswith(("-", "_", "+")):
        raise TemplateError(f"index prefix {prefix!r} must be lowercase and start with a letter or digit")
    try:
        count = replicas_for(client, replicas)
        for name, template in component_templates(prefix, count).items():
            client.cluster.put_component_template(name=name, template=template, meta={"version": VERSION})
        for kind in KINDS:
            client.indices.put_index_template(name=alias(prefix, kind), **index_template(prefix, kind))
            mappings = index_template(prefix, kind)["template"]["mappings"]
            if kind in _WITH_STATE:
                mappings = {**mappings, "properties": {**mappings["properties"], **STATE["properties"]}}
            client.indices.put_mapping(
                index=index_pattern(prefix, kind), allow_no_indices=True, ignore_unavailable=True, **mappings
            )
        # The current month's indices exist before the first document, so the aliases always have a
        # searchable index behind them: a query never races the creation of the only index (a 503).
        for kind in KINDS:
            index = monthly_index(prefix, kind, datetime.now(UTC))
            try:
                client.indices.create(index=index)
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
    except ApiError as exc:
        if exc.status_code in (429,) or exc.status_code >= 500:
            raise
        raise TemplateError(f"cannot install the index templates for prefix {prefix!r}: {exc}") from exc
    log.info("index templates installed for %s-{%s} (%d replica(s))", prefix, ",".join(KINDS), count)
