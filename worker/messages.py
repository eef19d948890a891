"""The worker's own messages: kill signals it reads, heartbeats it writes.

    kills              key: execution id   value: {"executionId": "..."}
    worker-heartbeats  key: worker id      value: {"workerId": "...", "host": "...",
                                                   "runningTaskRunIds": ["..."], "time": "2024-...Z"}

The executor writes the first and reads the second; both belong in `conveyor.common.events` once the
executor uses them (they are plain models with no worker logic).
"""

from __future__ import annotations

from datetime import datetime

from conveyor.common.base import Model


class KillSignal(Model):
    """Stop every attempt of this execution that runs on any worker."""

    execution_id: str


class Heartbeat(Model):
    """A worker is alive and runs these task runs (published every few seconds)."""

    worker_id: str
    host: str
    running_task_run_ids: list[str] = []
    time: datetime
