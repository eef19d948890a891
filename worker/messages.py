"""The worker's own messages: kill signals it reads, heartbeats it writes.

    kills              key: execution id   value: {"executionId": "..."}
    worker-heartbeats  key: worker id      value: {"workerId": "...", "host": "...",
                                                   "runningTaskRunIds": ["..."], "time": "2024-...Z"}
                                                  (a tombstone when the worker leaves cleanly)

The executor writes the first and reads the second, so both live in `conveyor.common.events`.
"""

from __future__ import annotations

from conveyor.common.events import Heartbeat, KillSignal

__all__ = ["Heartbeat", "KillSignal"]
