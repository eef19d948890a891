"""Everything the worker writes to Kafka, through the process's one producer.

Results go to execution-events keyed by execution id (one partition per execution, in order for the
executor); logs and metrics to their topics keyed by task run id; heartbeats keyed by worker id.
`send` only enqueues: it is safe from any thread, and the consumer loop polls the producer.
"""

from __future__ import annotations

from conveyor.common.events import LogEntry, MetricRecord, TaskResult, WorkerJob
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.worker.messages import Heartbeat


class Publisher:
    def __init__(self, producer: Producer, topics: Topics) -> None:
        self.producer = producer
        self.topics = topics

    def result(self, job: WorkerJob, result: TaskResult) -> None:
        """A RUNNING or final TaskResult; a final one also sends its metrics to the metrics topic."""
        tr = job.task_run
        if result.state.terminal:
            for entry in result.metrics:
                record = MetricRecord(
                    namespace=tr.namespace,
                    flow_id=tr.flow_id,
                    execution_id=tr.execution_id,
                    task_id=tr.task_id,
                    task_run_id=tr.id,
                    entry=entry,
                )
                self.producer.send(self.topics.metrics, tr.id, record.to_json())
        self.producer.send(self.topics.execution_events, result.execution_id, result.to_json())

    def log(self, entry: LogEntry) -> None:
        self.producer.send(self.topics.logs, entry.task_run_id, entry.to_json())

    def heartbeat(self, beat: Heartbeat) -> None:
        self.producer.send(self.topics.worker_heartbeats, beat.worker_id, beat.to_json())

    def leave(self, worker_id: str) -> None:
        """A tombstone for this worker's heartbeat: it left cleanly, executors forget it."""
        self.producer.send(self.topics.worker_heartbeats, worker_id, None)
