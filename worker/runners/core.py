"""Runners of the core tasks: Return, Log, Sleep and Fail (Commands lives in `commands.py`)."""

from __future__ import annotations

from conveyor.common.tasks.core import Fail, Log, Return, Sleep
from conveyor.worker.runners.base import RunContext, RunOutcome

# What a `condition` renders to when it means "no" (anything else means "yes", as in the reference).
FALSY = frozenset({"false", "0", "-0", ""})


class ReturnRunner:
    def run(self, task: Return, ctx: RunContext) -> RunOutcome:
        if task.format is None:
            return RunOutcome.success()
        return RunOutcome.success({"value": ctx.render(task.format)})


class LogRunner:
    def run(self, task: Log, ctx: RunContext) -> RunOutcome:
        messages = task.message if isinstance(task.message, list) else [task.message]
        for message in messages:
            ctx.log(task.level, ctx.render(message))
        return RunOutcome.success()


class SleepRunner:
    def run(self, task: Sleep, ctx: RunContext) -> RunOutcome:
        # A kill, a timeout or a shutdown sets `stopped` and ends the wait at once.
        ctx.stopped.wait(max(task.duration.total_seconds(), 0.0))
        return RunOutcome.success()


class FailRunner:
    def run(self, task: Fail, ctx: RunContext) -> RunOutcome:
        if task.condition is not None and is_falsy(ctx.render(task.condition)):
            return RunOutcome.success()
        return RunOutcome.failed(ctx.render(task.error_message))


def is_falsy(rendered: str) -> bool:
    return rendered.strip().lower() in FALSY
