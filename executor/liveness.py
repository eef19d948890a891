"""Worker liveness: which workers stopped beating, and which owned executions that leaves with lost attempts.

Every executor reads the whole compacted `worker-heartbeats` topic (no group: each sees every worker) and
follows it. A worker whose newest heartbeat is older than `worker_timeout` is lost, once, until it beats
again; a tombstone means it left cleanly (it drained or abandoned its attempts, which its consumer group
hands to another worker) and it is forgotten. For each execution this executor owns that has an attempt
running on a lost worker, the shell applies a `WorkerLost` event (`executor.lost` holds the rule).

Silence is judged on the heartbeat's own `time` against this executor's clock: the hosts' clocks must agree
within a small part of the timeout (NTP gives milliseconds). A worker wrongly judged lost (a long pause)
costs a duplicate run of its attempts, never a lost or doubled result: its late reports are stale.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from pydantic import ValidationError

from conveyor.common.events import Heartbeat, WorkerLost
from conveyor.common.kafka.consumer import tail_consumer
from conveyor.common.kafka.errors import RetryableKafkaError
from conveyor.common.model import TaskRun
from conveyor.common.settings import KafkaSettings
from conveyor.executor.state import ExecutionState

log = logging.getLogger(__name__)

# How often the heartbeats are read and silences judged, in seconds.
CHECK_INTERVAL = 1.0


class Liveness:
    """The newest heartbeat of each known worker, and the workers judged lost (pure: no Kafka)."""

    def __init__(self, timeout: timedelta) -> None:
        self.timeout = timeout
        self._alive: dict[str, Heartbeat] = {}
        self.lost: dict[str, Heartbeat] = {}  # worker id -> its last heartbeat, until it beats again

    def beat(self, beat: Heartbeat) -> None:
        known = self._alive.get(beat.worker_id) or self.lost.get(beat.worker_id)
        if known is not None and beat.time < known.time:
            return  # an older heartbeat read late
        if self.lost.pop(beat.worker_id, None) is not None:
            log.info("worker %s is beating again", beat.worker_id, extra={"worker_id": beat.worker_id})
        self._alive[beat.worker_id] = beat

    def left(self, worker_id: str) -> None:
        self._alive.pop(worker_id, None)
        self.lost.pop(worker_id, None)

    def newly_lost(self, now: datetime) -> list[Heartbeat]:
        """Workers silent past the timeout since the last call (each reported once)."""
        silent = [beat for beat in self._alive.values() if now - beat.time > self.timeout]
        for beat in silent:
            del self._alive[beat.worker_id]
            self.lost[beat.worker_id] = beat
        return silent


def lost_events(states: Mapping[str, ExecutionState], lost: Mapping[str, Heartbeat]) -> list[WorkerLost]:
    """One `WorkerLost` per (execution, lost worker) with an attempt of that execution still running there
    (only the task runs with an open attempt are looked at)."""
    if not lost:
        return []
    listed = {run_id: worker_id for worker_id, beat in lost.items() for run_id in beat.running_task_run_ids}
    events = []
    for key, state in states.items():
        workers: dict[str, list[str]] = {}
        for run in (state.runs[run_id] for run_id in state.active):
            if run.state.terminal or not run.attempts or run.attempts[-1].state.terminal:
                continue
            worker_id = run.attempts[-1].worker_id or listed.get(run.id)
            if worker_id is not None and worker_id in lost:
                workers.setdefault(worker_id, []).append(run.id)
        for worker_id, run_ids in workers.items():
            events.append(WorkerLost(execution_id=key, worker_id=worker_id, task_run_ids=run_ids))
    return events


def running_on(runs: Iterable[TaskRun], lost: Mapping[str, Heartbeat]) -> bool:
    """Whether any of these task runs has its last attempt running on a lost worker."""
    return any(
        run.attempts and not run.attempts[-1].state.terminal and run.attempts[-1].worker_id in lost for run in runs
    )


class WorkerWatch:
    """Follows `worker-heartbeats` from its beginning and judges silences every `CHECK_INTERVAL`."""

    def __init__(self, kafka: KafkaSettings, topic: str, timeout: float) -> None:
        self.liveness = Liveness(timedelta(seconds=timeout))
        self._consumer = tail_consumer(kafka, topic, from_beginning=True)
        self._next_check = 0.0

    @property
    def lost(self) -> dict[str, Heartbeat]:
        return self.liveness.lost

    def check(self, monotonic: float, now: datetime) -> list[Heartbeat]:
        """Read what arrived and return the workers newly judged lost (at most every `CHECK_INTERVAL`)."""
        if monotonic < self._next_check:
            return []
        self._next_check = monotonic + CHECK_INTERVAL
        try:
            self._read()
        except RetryableKafkaError as exc:  # judge nobody on stale news
            log.warning("reading worker heartbeats: %s", exc)
            return []
        lost = self.liveness.newly_lost(now)
        for beat in lost:
            log.warning(
                "worker %s on %s lost: no heartbeat since %s",
                beat.worker_id,
                beat.host,
                beat.time.isoformat(),
                extra={"worker_id": beat.worker_id},
            )
        return lost

    def _read(self) -> None:
        while True:
            messages = self._consumer.consume(1000, 0)
            for msg in messages:
                value = msg.value
                if value is None:
                    raw = msg.key
                    self.liveness.left(raw.decode() if isinstance(raw, bytes) else str(raw))
                    continue
                try:
                    self.liveness.beat(Heartbeat.model_validate_json(value))
                except ValidationError as exc:
                    log.warning("ignored an undecodable heartbeat: %s", exc)
            if len(messages) < 1000:
                return

    def close(self) -> None:
        self._consumer.close()
