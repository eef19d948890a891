"""Flow concurrency in at-least-once mode (`CONVEYOR_EXECUTOR_TRANSACTIONS=false`, which the slot keepers
follow too), across a SIGKILL: the same run as `test_concurrency_faults` (300 executions of a limit-3 flow on
two executor processes, one SIGKILLed midway and replaced), checked the same way from the recorded dates:
never more than 3 at once, the queue drained in order, every execution SUCCESS.

What holds in this mode and why (docs/flows.md, "Flow concurrency"): the keeper counts each execution once
whatever is delivered twice (a request again is ignored, a release again frees nothing), so the limit holds.
Without transactions a SIGKILL can lose messages produced in the batch it cut while the state records of that
batch were written; an answer or a request lost so leaves an execution waiting (CREATED or QUEUED) until a
hand unqueues it — the run below would then miss executions and fail, saying how many."""

from __future__ import annotations

from tests.e2e.conftest import Stack
from tests.e2e.test_concurrency_faults import pytestmark as pytestmark
from tests.e2e.test_concurrency_faults import (
    test_the_limit_holds_and_the_queue_drains_in_order_across_an_executor_sigkill as _the_run,
)

EXECUTORS = 2
WORKERS = 1
WORKER_ENV = {"CONVEYOR_WORKER_CONCURRENCY": "8"}
ENV = {"CONVEYOR_EXECUTOR_TRANSACTIONS": "false"}


def test_at_least_once_the_limit_holds_and_the_queue_drains_in_order_across_a_sigkill(e2e_stack: Stack) -> None:
    _the_run(e2e_stack)
    logs = "".join(p.read_text(errors="replace") for p in e2e_stack.logs.glob("executor*.log"))
    assert "executor started (transactions=False)" in logs and "slot keeper started (transactions=False)" in logs
