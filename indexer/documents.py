"""The flat, Kibana-friendly documents the indexer writes, and the bulk action for each message.

- task run (`taskruns` topic, a `TaskRunChange`): the TaskRun JSON (`id`, `executionId`, `namespace`,
  `flowId`, `taskId`, `parentTaskRunId`, `value`, `iteration`, `attempts`, `outputs`, `state`) plus
  `attemptsCount`, `workerId` (of the last attempt), `revision` and `triggerId` (the trigger that started
  the execution, if any); `_id` is the task run id.
- execution (`executions` topic, an `Execution` snapshot): the Execution JSON without `taskRunList`,
  plus `taskRunCount`, SECRET inputs and outputs written `******`; `_id` is the execution id.
- audit record (`audit`, an `AuditRecord`): its JSON; `_id` is the record's id (a replay overwrites it).
- log line (`logs`, a `LogEntry`) and metric (`metrics`, a `MetricRecord`, flattened): `_id` is
  `{topic}-{partition}-{offset}`, so a replayed message overwrites itself instead of duplicating.

Every `state` also gets `durationMs` (a long number of milliseconds, the indexed duration) beside the
reference's ISO `duration`. Executions and task runs are written with `version_type=external` and
`version=revision`: Elasticsearch keeps whichever revision is highest, whatever the arrival order.

Every message is validated against its model (an invalid one is a `DocumentError`, dead-lettered), but
the document is the message's own JSON (the models' JSON form, as the services wrote it) with the added
fields: reading it again with orjson costs a tenth of dumping the validated model. A field the model does
not know stays in `_source` and is not indexed (the mappings are `dynamic: false`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from conveyor.common import input_secrets
from conveyor.common.audit import AuditRecord
from conveyor.common.events import LogEntry, MetricRecord, TaskRunChange
from conveyor.common.model import Execution
from conveyor.common.state import State
from conveyor.indexer.errors import DocumentError
from conveyor.indexer.templates import AUDIT, EXECUTIONS, LOGS, METRICS, TASKRUNS, monthly_index


@dataclass(frozen=True)
class Action:
    """One document to index: where, under which id, and (for versioned kinds) which revision."""

    kind: str
    index: str
    id: str
    source: dict[str, Any]
    version: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The entity this document describes: two actions with one key are versions of one document."""
        return (self.kind, self.id)

    def bulk(self) -> dict[str, Any]:
        """The action in `elasticsearch.helpers.streaming_bulk`'s dict form."""
        action: dict[str, Any] = {"_op_type": "index", "_index": self.index, "_id": self.id}
        if self.version is not None:
            action["version"] = self.version
            action["version_type"] = "external"
        action["_source"] = self.source
        return action


def duration_ms(state: State) -> int | None:
    elapsed = state.elapsed
    return round(elapsed / timedelta(milliseconds=1)) if elapsed is not None else None


def _with_duration(out: dict[str, Any], state: State) -> dict[str, Any]:
    ms = duration_ms(state)
    if ms is not None:
        out["durationMs"] = ms
    return out


def _first_date(state: State, what: str) -> datetime:
    if state.start_date is None:
        raise DocumentError(f"{what} has no state history: no date to choose its monthly index")
    return state.start_date


def taskrun_document(change: TaskRunChange, raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """`raw`: the message's JSON, read as it is (by default, the validated change's)."""
    task_run = change.task_run
    doc: dict[str, Any] = (raw or change.to_dict())["taskRun"]
    _with_duration(doc["state"], task_run.state)
    doc["attemptsCount"] = task_run.attempts_count
    worker_id = task_run.attempts[-1].worker_id if task_run.attempts else None
    if worker_id is not None:
        doc["workerId"] = worker_id
    doc["revision"] = change.revision
    if change.trigger_id is not None:
        doc["triggerId"] = change.trigger_id
    if change.trigger_execution_id is not None:
        doc["triggerExecutionId"] = change.trigger_execution_id
    if change.labels:
        doc["labels"] = [label.to_dict() for label in change.labels]
    return doc


def execution_document(execution: Execution, raw: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = raw or execution.to_dict()
    doc.pop("taskRunList", None)
    input_secrets.mask_execution(doc)  # SECRET values are never indexed
    _with_duration(doc["state"], execution.state)
    doc["taskRunCount"] = max(execution.task_run_count, len(execution.task_run_list))
    parent = execution.trigger.triggering_execution_id if execution.trigger is not None else None
    if parent is not None:
        doc["triggerExecutionId"] = parent  # the parent (Subflow, ForEachItem) or the Flow trigger's ended one
    return doc


def log_document(entry: LogEntry, partition: int, offset: int) -> dict[str, Any]:
    return {**entry.to_dict(), "partition": partition, "offset": offset}


def metric_document(record: MetricRecord, timestamp: datetime) -> dict[str, Any]:
    entry = record.entry
    doc = record.to_dict()
    doc.pop("entry")
    doc.update(
        type=entry.type,
        name=entry.name,
        value=entry.value,
        tags=entry.tags,
        timestamp=(entry.timestamp or timestamp).isoformat(),
    )
    return doc


def taskrun_action(prefix: str, change: TaskRunChange, raw: dict[str, Any] | None = None) -> Action:
    task_run = change.task_run
    date = _first_date(task_run.state, f"task run {task_run.id}")
    return Action(
        TASKRUNS, monthly_index(prefix, TASKRUNS, date), task_run.id, taskrun_document(change, raw), change.revision
    )


def execution_action(prefix: str, execution: Execution, raw: dict[str, Any] | None = None) -> Action:
    date = _first_date(execution.state, f"execution {execution.id}")
    return Action(
        EXECUTIONS,
        monthly_index(prefix, EXECUTIONS, date),
        execution.id,
        execution_document(execution, raw),
        execution.revision,
    )


def log_action(prefix: str, entry: LogEntry, topic: str, partition: int, offset: int) -> Action:
    return Action(
        LOGS,
        monthly_index(prefix, LOGS, entry.timestamp),
        f"{topic}-{partition}-{offset}",
        log_document(entry, partition, offset),
    )


def metric_action(
    prefix: str, record: MetricRecord, topic: str, partition: int, offset: int, timestamp: datetime
) -> Action:
    date = record.entry.timestamp or timestamp
    return Action(
        METRICS,
        monthly_index(prefix, METRICS, date),
        f"{topic}-{partition}-{offset}",
        metric_document(record, timestamp),
    )


def audit_action(prefix: str, record: AuditRecord) -> Action:
    return Action(AUDIT, monthly_index(prefix, AUDIT, record.timestamp), record.id, record.to_dict())


def decode(
    prefix: str,
    kind: str,
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None = None,
    raw: dict[str, Any] | None = None,
) -> Action | None:
    """The action for one message of the `kind` topic, None for a tombstone (a compacted topic's delete
    marker: nothing to index); raises `DocumentError` when the message cannot become a document. `raw`: the
    value's JSON already read (executions and task runs), else it is read here."""
    if value is None:
        return None
    try:
        if kind == EXECUTIONS:
            return execution_action(prefix, Execution.model_validate_json(value), raw or orjson.loads(value))
        if kind == TASKRUNS:
            return taskrun_action(prefix, TaskRunChange.model_validate_json(value), raw or orjson.loads(value))
        if kind == LOGS:
            return log_action(prefix, LogEntry.model_validate_json(value), topic, partition, offset)
        if kind == METRICS:
            # A metric without its own timestamp takes the message's (when the worker produced it).
            when = datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms else datetime.now(UTC)
            record = MetricRecord.model_validate_json(value)
            return metric_action(prefix, record, topic, partition, offset, when)
        if kind == AUDIT:
            return audit_action(prefix, AuditRecord.model_validate_json(value))
    except ValidationError as exc:
        raise DocumentError(f"cannot decode a {kind} message: {_summary(exc)}") from exc
    raise DocumentError(f"no document for topic {topic!r}")


def _summary(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "message"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
