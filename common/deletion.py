"""Deleting an execution (`conveyor delete ID`, `DELETE /api/v1/executions/{id}`), as the reference's
`ExecutionService.delete`: the execution and its task runs, and, unless asked to keep them, its logs, its
metrics and its files in the internal storage.

The sender (CLI or API) looks the execution up on the `executions` topic, then, on Kafka:
- tombstones for the execution's task runs on `taskruns` (those the executor forgot when the execution ended)
  and for its header on `executions`, with header `conveyor.delete` naming what the indexer deletes too, so a
  restart or a replay finds nothing and the indexer removes the documents even if it was behind;
- a `DeleteRequested` to `execution-control`, so that the executor owning the execution drops its working
  state if it still has one (a running or paused execution: its attempts are killed) and writes tombstones
  for what it knows (after anything it wrote for it before).
Then the files, under the execution's storage prefix. The Elasticsearch documents are the caller's part
(`indexer.purge`), so that the answer comes once they are gone from the search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conveyor.common.control import Found, latest_execution
from conveyor.common.events import DELETE_HEADER, DeleteRequested
from conveyor.common.kafka import lookup
from conveyor.common.kafka.lookup import EXECUTION_HEADER
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings
from conveyor.common.storage import ExecutionScope, Storage


@dataclass(frozen=True)
class Keep:
    """What a deletion leaves (the reference's `deleteLogs`, `deleteMetrics`, `deleteStorage`, all true by
    default: nothing is kept)."""

    logs: bool = False
    metrics: bool = False
    storage: bool = False

    def header(self) -> bytes:
        return ",".join(what for what, keep in (("logs", self.logs), ("metrics", self.metrics)) if not keep).encode()


@dataclass(frozen=True)
class Deleted:
    execution: Execution
    task_runs: int  # task-run records given a tombstone
    files: int  # files deleted from the storage


def delete(
    kafka: KafkaSettings,
    producer: Producer,
    execution_id: str,
    *,
    keep: Keep = Keep(),
    storage: Storage | None = None,
    authorize: Callable[[Execution], None] | None = None,
) -> Deleted:
    """Delete the execution (raises `UnknownExecution` if the `executions` topic has no header for it);
    `authorize` sees it before anything is sent, and raises to refuse."""
    found = latest_execution(kafka, execution_id)
    execution = found.execution
    if authorize is not None:
        authorize(execution)
    topics = Topics.of(kafka)
    event = DeleteRequested(
        execution_id=execution.id, logs=not keep.logs, metrics=not keep.metrics, storage=not keep.storage
    )
    count = _tombstones(kafka, producer, found, keep)
    producer.send(topics.control, execution.id, event.to_json())
    producer.flush(30)
    files = 0
    if storage is not None and not keep.storage:
        files = storage.delete(ExecutionScope(execution.namespace, execution.flow_id, execution.id).prefix)
    return Deleted(execution, count, files)


def _tombstones(kafka: KafkaSettings, producer: Producer, found: Found, keep: Keep) -> int:
    topics = Topics.of(kafka)
    key = found.execution.id
    partition, run_keys = lookup.task_run_keys(kafka, topics.taskruns, key)
    mark = [(EXECUTION_HEADER, key.encode())]
    for run_key in run_keys:
        producer.send(topics.taskruns, run_key, None, headers=mark, partition=partition)
    headers = [(DELETE_HEADER, keep.header())]
    producer.send(topics.executions, key, None, headers=headers, partition=found.partition)
    return len(run_keys)
