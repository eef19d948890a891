"""The OutputValues runner: its `values`, rendered, are the output `values`."""

from __future__ import annotations

from conveyor.common.tasks.output import OutputValues
from conveyor.worker.runners.base import RunContext, RunOutcome


class OutputValuesRunner:
    def run(self, task: OutputValues, ctx: RunContext) -> RunOutcome:
        return RunOutcome.success({"values": ctx.render(task.values)})
