"""WorkingDirectory: the worker runs the group in one directory and reports each task as a task run it
created; the executor adopts those task runs and decides the group's state from them."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.events import TaskResult, WorkerJob
from conveyor.common.loader import load_flow
from conveyor.common.state import StateType
from conveyor.worker.attempt import Attempt
from conveyor.worker.runners.base import StopReason
from conveyor.worker.testing import make_job
from tests.unit.sim import Sim, start

S = StateType
WD = "io.kestra.plugin.core.flow.WorkingDirectory"
SH = "io.kestra.plugin.scripts.shell.Commands"


def group(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"id": "wd", "type": WD, "tasks": list(tasks)}


GROUP_RUN: list[str] = []


def run_group(spec: dict[str, Any], context: dict[str, Any] | None = None) -> tuple[TaskResult | None, list[Any]]:
    published: list[tuple[WorkerJob, TaskResult]] = []
    job = make_job(spec, context)
    GROUP_RUN[:] = [job.task_run.id]
    attempt = Attempt(job, publish=lambda j, r: published.append((j, r)))
    return attempt.run(), published


def test_the_tasks_share_one_directory_and_read_the_outputs_before_them() -> None:
    result, published = run_group(
        group(
            {"id": "write", "type": SH, "commands": ["pwd > where", "echo data > file.txt"]},
            {"id": "read", "type": SH, "commands": ["cat file.txt", 'test "$(cat where)" = "$(pwd)"']},
            {"id": "ret", "type": "io.kestra.plugin.core.debug.Return", "format": "{{ outputs.read.exitCode }}"},
        )
    )
    assert result is not None and result.state == S.SUCCESS
    finals = [r for _, r in published if r.state.terminal]
    assert [(r.task_id, r.state) for r in finals] == [("write", S.SUCCESS), ("read", S.SUCCESS), ("ret", S.SUCCESS)]
    assert finals[2].outputs == {"value": "0"}
    assert {r.parent_task_run_id for _, r in published} == set(GROUP_RUN)
    runs = [r for _, r in published if r.state == S.RUNNING]
    assert len(runs) == 3 and len({r.task_run_id for r in runs}) == 3
    directory = published[0][0].context["workingDir"]
    assert not os.path.exists(directory)  # removed at the end


def test_a_failure_stops_the_group_unless_the_task_allows_it() -> None:
    result, published = run_group(
        group(
            {"id": "tolerated", "type": "io.kestra.plugin.core.execution.Fail", "allowFailure": True},
            {"id": "ko", "type": "io.kestra.plugin.core.execution.Fail"},
            {"id": "never", "type": "io.kestra.plugin.core.debug.Return", "format": "x"},
        )
    )
    assert result is not None and result.state == S.FAILED and "task ko of wd ended FAILED" in (result.error or "")
    assert [r.task_id for _, r in published if r.state.terminal] == ["tolerated", "ko"]


def test_a_kill_stops_the_running_task() -> None:
    published: list[tuple[WorkerJob, TaskResult]] = []
    job = make_job(group({"id": "long", "type": SH, "commands": ["sleep 30"]}))
    attempt = Attempt(job, publish=lambda j, r: published.append((j, r)))
    threading.Timer(0.5, attempt.stop, (StopReason.KILLED,)).start()
    result = attempt.run()
    assert result is not None and result.state == S.KILLED
    assert [(r.task_id, r.state) for _, r in published if r.state.terminal] == [("long", S.KILLED)]


def test_only_runnable_tasks_can_be_in_a_working_directory() -> None:
    source = (
        "id: w\nnamespace: conveyor.tests\ntasks:\n  - id: wd\n    type: " + WD + "\n    tasks:\n"
        "      - id: seq\n        type: io.kestra.plugin.core.flow.Sequential\n"
        "        tasks: [{id: r, type: io.kestra.plugin.core.debug.Return, format: x}]\n"
    )
    with pytest.raises(FlowError) as caught:
        load_flow(source)
    assert "only tasks a worker runs can be in a WorkingDirectory, not seq" in str(caught.value)


FLOW = f"""
id: w
namespace: conveyor.tests
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: wd
    type: {WD}
    tasks:
      - id: a
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ outputs.first.value }}}}"
      - id: b
        type: io.kestra.plugin.core.debug.Return
        format: two
    errors:
      - id: handler
        type: io.kestra.plugin.core.debug.Return
        format: handled
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: three
"""


def _child(sim: Sim, job: WorkerJob, task_id: str, state: StateType, n: int, **kw: Any) -> None:
    created = {"task_id": task_id, "parent_task_run_id": job.task_run.id}
    sim.send(sim.result(job, S.RUNNING).model_copy(update={"task_run_id": f"child{n}", "attempt": 1, **created}))
    sim.send(sim.result(job, state, **kw).model_copy(update={"task_run_id": f"child{n}", "attempt": 1, **created}))


def _group_job(sim: Sim) -> WorkerJob:
    """Run `first` (a fake worker), then take the group's job (run by hand)."""
    first = sim.jobs.pop(0)
    sim.send(sim.result(first, S.SUCCESS, outputs={"value": "one"}))
    (job,) = sim.jobs
    sim.jobs.clear()
    return job


def test_the_executor_sends_one_job_for_the_group_and_adopts_its_tasks() -> None:
    sim = start(FLOW)
    job = _group_job(sim)
    assert job.task_run.task_id == "wd" and [t["id"] for t in job.task["tasks"]] == ["a", "b"]
    assert job.context["outputs"]["first"] == {"value": "one"}  # what its tasks read
    sim.send(sim.result(job, S.RUNNING))
    _child(sim, job, "a", S.SUCCESS, 1, outputs={"value": "one"})
    _child(sim, job, "b", S.SUCCESS, 2, outputs={"value": "two"})
    assert not sim.jobs  # nothing dispatched on its own
    sim.send(sim.result(job, S.SUCCESS))
    sim.run_jobs()
    states = {r.task_id: r.state.current for r in sim.ex.task_run_list}
    assert states == {"first": S.SUCCESS, "wd": S.SUCCESS, "a": S.SUCCESS, "b": S.SUCCESS, "after": S.SUCCESS}
    assert sim.runs("a")[0].parent_task_run_id == job.task_run.id and sim.runs("b")[0].outputs == {"value": "two"}
    assert sim.current() == S.SUCCESS


def test_a_failed_task_of_the_group_fails_it_after_its_errors_branch_and_is_not_retried_alone() -> None:
    sim = start(
        FLOW.replace(
            "tasks:\n  - id: first", "retry: {type: constant, interval: PT1S, maxAttempt: 3}\ntasks:\n  - id: first", 1
        )
    )
    job = _group_job(sim)
    sim.send(sim.result(job, S.RUNNING))
    _child(sim, job, "a", S.FAILED, 1, error="boom")
    assert sim.runs("a")[0].state.current == S.FAILED and not sim.timers  # no retry of `a` alone
    sim.send(sim.result(job, S.FAILED, error="task a of wd ended FAILED"))
    sim.run_jobs()
    states = {r.task_id: r.state.current for r in sim.ex.task_run_list}
    assert states == {"first": S.SUCCESS, "wd": S.FAILED, "a": S.FAILED, "handler": S.SUCCESS}
    assert sim.current() == S.FAILED


def test_a_report_for_a_task_that_is_not_in_the_group_is_ignored() -> None:
    sim = start(FLOW)
    job = _group_job(sim)
    sim.send(sim.result(job, S.RUNNING))
    _child(sim, job, "after", S.SUCCESS, 1)
    assert not sim.runs("after")
