"""The WorkingDirectory runner: the group's tasks one after another, in one fresh directory of this worker.

Each task runs as an attempt of its own (`ctx.spawn`: its timeout, kill, logs and masking as any attempt's),
with the group's context plus its own `taskrun`, `task`, the outputs of the tasks before it in the group and
`workingDir`; its results (RUNNING, then the end) are reported as a task run this worker created (`taskId`,
`parentTaskRunId`), under an id derived from the group's attempt. Tasks with a `workingDirectory` property
(the scripts, Commands) run in the shared directory. A failure stops the group unless the task allows it;
a kill or the group's timeout stops the running task. Then its `finally` tasks run in the same directory,
one after another, whatever the tasks' outcome (none starts once the group is stopped), reported as the
tasks are; the first failure, of a task or a `finally` task, is the group's. The directory is removed at the
end.

Around the tasks, as the reference's preExecuteTasks and postExecuteTasks: the selected namespace files and
the `inputFiles` are written into the directory first (a failure there fails the group before any task
runs), and the files matching `outputFiles` are stored last, also after a failed task (their URIs are the
group's output `outputFiles`; a failure to store them fails the group). With `cache`, the cached files are
unpacked before everything else and archived again after a successful group (`workdir_cache`).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from conveyor.common.clock import utcnow
from conveyor.common.events import TaskResult, WorkerJob
from conveyor.common.ids import derived_id
from conveyor.common.model import TaskRun
from conveyor.common.state import State, StateType
from conveyor.common.tasks import registry
from conveyor.common.tasks.flowable import WorkingDirectory
from conveyor.worker.runners import command_files
from conveyor.worker.runners.base import GroupMember, RunContext, RunOutcome
from conveyor.worker.runners.workdir_cache import WorkdirCache

S = StateType


class WorkingDirectoryRunner:
    def run(self, task: WorkingDirectory, ctx: RunContext) -> RunOutcome:
        if ctx.spawn is None or ctx.publish is None:
            return RunOutcome.failed("this worker cannot run a WorkingDirectory (no way to report its tasks)")
        directory = tempfile.mkdtemp(prefix="conveyor-workdir-")
        group = _Group(task, ctx, directory)
        watcher = threading.Thread(target=group.watch, name=f"workdir-{task.id}", daemon=True)
        watcher.start()
        cache = WorkdirCache(task, ctx, Path(directory))
        try:
            cache.restore()
            problem = command_files.prepare(task, ctx, Path(directory))
            if problem is not None:
                return RunOutcome.failed(f"Failed preExecuteTasks on WorkingDirectory: {problem}")
            outcome = group.run()
            if outcome.state is S.SUCCESS:
                cache.save()
            files, problem = command_files.collect(task, ctx, Path(directory))
            if problem is not None:
                return RunOutcome.failed(f"Failed postExecuteTasks on WorkingDirectory: {problem}")
            if files.get("outputFiles"):  # none matched: no outputs, as the reference
                return replace(outcome, outputs={**(outcome.outputs or {}), **files})
            return outcome
        finally:
            group.done.set()
            shutil.rmtree(directory, ignore_errors=True)


class _Group:
    def __init__(self, task: WorkingDirectory, ctx: RunContext, directory: str) -> None:
        self.task = task
        self.ctx = ctx
        self.directory = directory
        self.done = threading.Event()
        self.current: GroupMember | None = None
        self.lock = threading.Lock()
        self.outputs: dict[str, Any] = dict(ctx.job.context.get("outputs") or {})

    def watch(self) -> None:
        """A kill or the group's timeout stops the task that runs."""
        while not self.done.is_set():
            if self.ctx.stopped.wait(0.2):
                with self.lock:
                    if self.current is not None and self.ctx.reason is not None:
                        self.current.stop(self.ctx.reason)
                return

    def run(self) -> RunOutcome:
        """The tasks, then the `finally` tasks whatever the tasks' outcome (none once the group is stopped:
        a kill, its timeout, a shutdown); the first failure is the group's."""
        failure = self._run_list(self.task.tasks, "task")
        if self.ctx.stopped.is_set():
            return failure or RunOutcome.success()
        after = self._run_list(self.task.finally_, "finally task")
        return failure or after or RunOutcome.success()

    def _run_list(self, tasks: list[Any], what: str) -> RunOutcome | None:
        """Run `tasks` one after another; the failure that stopped them, None when none did."""
        for child in tasks:
            if child.disabled:
                continue
            if self.ctx.stopped.is_set():
                break
            result = self._run_one(child.id, self._child_json(child))
            if result is None:
                break  # abandoned at shutdown: the group is too
            if result.state in (S.FAILED, S.KILLED) and not child.allow_failure:
                return RunOutcome.failed(f"{what} {child.id} of {self.task.id} ended {result.state.value}")
        return None

    def _child_json(self, child: Any) -> dict[str, Any]:
        spec: dict[str, Any] = child.model_dump(mode="json", by_alias=True, exclude_none=True)
        cls = registry.task_classes().get(child.type)
        if cls is not None and "working_directory" in cls.model_fields and not spec.get("workingDirectory"):
            spec["workingDirectory"] = self.directory
        return spec

    def _run_one(self, task_id: str, spec: dict[str, Any]) -> TaskResult | None:
        group_run = self.ctx.job.task_run
        now = utcnow()
        run = TaskRun(
            id=derived_id("workdir", group_run.id, str(self.ctx.job.attempt), task_id),
            execution_id=group_run.execution_id,
            namespace=group_run.namespace,
            flow_id=group_run.flow_id,
            task_id=task_id,
            parent_task_run_id=group_run.id,
            state=State.new(now),
        )
        context = {
            **self.ctx.job.context,
            "outputs": self.outputs,
            "taskrun": {
                "id": run.id,
                "startDate": now.isoformat().replace("+00:00", "Z"),
                "attemptsCount": 0,
                "parentId": group_run.id,
            },
            "task": {"id": task_id, "type": spec.get("type")},
            "workingDir": self.directory,
        }
        job = WorkerJob(task_run=run, attempt=1, task=spec, context=context)
        assert self.ctx.spawn is not None and self.ctx.publish is not None
        member = self.ctx.spawn(job)
        with self.lock:
            self.current = member
        self.ctx.publish(job, _created(member.running(), run))
        result = member.run()
        with self.lock:
            self.current = None
        if result is None:
            return None
        self.ctx.publish(job, _created(result, run))
        if result.outputs:
            self.outputs[task_id] = result.outputs
        return result


def _created(result: TaskResult, run: TaskRun) -> TaskResult:
    return result.model_copy(update={"task_id": run.task_id, "parent_task_run_id": run.parent_task_run_id})
