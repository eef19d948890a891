"""A lost worker (`WorkerLost`), as a rule of the pure core.

The shell (`executor.liveness`) sends `WorkerLost` for each execution it owns that has an attempt running
on a worker silent past `worker_timeout`. Here, every attempt of the execution that worker was running
(the task run's last attempt, not ended, reported RUNNING by that worker, or not reported by anyone yet
but listed in the worker's last heartbeat) ends FAILED with the error `worker W lost`, and the task run
gets a new attempt at once:

- the task run stays RUNNING (it is not a retry: no RETRYING, no retry delay);
- the lost attempt does not count against the retry policy (`maxAttempt`, the delay's attempt number,
  `warningOnRetry`): the platform failed, not the task; `taskrun.attemptsCount` does count it, it is an
  attempt like any other;
- under KILLING the task run is killed instead of resubmitted;
- a lost worker that was only cut off and reports late reports a stale attempt: `decide` ignores it.

Applying the event twice, or to an execution the worker no longer runs anything of, changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.common.events import WorkerLost
from conveyor.common.model import Attempt, TaskRun
from conveyor.common.state import StateType
from conveyor.common.tasks.base import LogLevel

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules

S = StateType


def lost_error(worker_id: str) -> str:
    return f"worker {worker_id} lost"


def is_lost(attempt: Attempt) -> bool:
    return (
        attempt.state.current == S.FAILED
        and attempt.worker_id is not None
        and attempt.error == lost_error(attempt.worker_id)
    )


def counted(run: TaskRun) -> int:
    """The attempts that count against a retry policy: all but the lost ones."""
    return sum(1 for attempt in run.attempts if not is_lost(attempt))


def worker_lost(d: Rules, event: WorkerLost) -> None:
    """Only the task runs with an open attempt are looked at (`state.active`), not the whole execution."""
    listed = set(event.task_run_ids)
    for run_id in list(d.state.active):
        run = d.state.runs[run_id]
        if run.state.terminal or not run.attempts:
            continue
        attempt = run.attempts[-1]
        if attempt.state.terminal:
            continue
        if attempt.worker_id != event.worker_id and not (attempt.worker_id is None and run.id in listed):
            continue
        attempt.worker_id = event.worker_id
        if d.killing:
            d.kill_run(run)
            continue
        attempt.state = attempt.state.to(S.FAILED, d.now)
        attempt.error = lost_error(event.worker_id)
        d.state.attempt_closed(run)
        number = len(run.attempts)
        d.log(run, LogLevel.WARN, f"attempt {number} lost with worker {event.worker_id}: run again as {number + 1}")
        d.dispatch(run, d.task(run.task_id))
