"""The Subflow runner: a restarted parent's Subflow restarts its failed child (`restartBehavior: RETRY_FAILED`).

The executor sends this job when it restarts the task run (outputs `executionId` and `phase: restart`); the
worker sends the child's restart (`conveyor.worker.children`) and answers `phase: restarted`, or `refused`
with the reason when the child cannot be restarted (then the executor starts a new child instead).
"""

from __future__ import annotations

from conveyor.common.tasks.base import LogLevel
from conveyor.common.tasks.subflow import PHASE, REFUSED, RESTARTED, Subflow
from conveyor.worker.runners.base import RunContext, RunOutcome


class SubflowRunner:
    def run(self, task: Subflow, ctx: RunContext) -> RunOutcome:
        child = (ctx.job.task_run.outputs or {}).get("executionId")
        if not isinstance(child, str):
            return RunOutcome.failed(f"Subflow '{task.id}': no child execution to restart")
        reason: str | None = "this worker cannot restart executions"
        if ctx.restart_execution is not None:
            reason = ctx.restart_execution(child)
        if reason is None:
            ctx.log(LogLevel.INFO, f"restart of the child execution {child} sent")
            return RunOutcome.success({"executionId": child, PHASE: RESTARTED})
        ctx.log(LogLevel.INFO, f"child execution {child} cannot be restarted: {reason}")
        return RunOutcome.success({"executionId": child, PHASE: REFUSED, "reason": reason})
