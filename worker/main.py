"""The worker service's entry point, called by `conveyor worker` (and by the local stack)."""

from __future__ import annotations

import threading

from conveyor.common.kafka.admin import wait_for_topics
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings, WorkerSettings
from conveyor.worker.service import Worker


def run_worker(kafka: KafkaSettings, settings: WorkerSettings, stop: threading.Event) -> None:
    """Run one worker process's consumer loop until `stop` is set, then drain and return."""
    topics = Topics.of(kafka)
    wait_for_topics(
        kafka,
        [
            topics.worker_jobs,
            topics.execution_events,
            topics.kills,
            topics.logs,
            topics.metrics,
            topics.worker_heartbeats,
            topics.dead_letter,
        ],
    )
    Worker(kafka, settings).run(stop)
