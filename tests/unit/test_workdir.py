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
from conveyor.common.tasks.flowable import WorkingDirectory
from conveyor.worker.attempt import Attempt
from conveyor.worker.runners.base import StopReason
from conveyor.worker.testing import make_job
from tests.unit.sim import Sim, start
from tests.unit.test_restart import restart

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


# `finally`: the group's worker runs them in the same directory, after the tasks, whatever their outcome.


def with_finally(spec: dict[str, Any], *finally_: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "finally": list(finally_)}


def test_finally_runs_in_the_same_directory_after_a_failed_task_and_the_failure_stays() -> None:
    result, published = run_group(
        with_finally(
            group(
                {"id": "write", "type": SH, "commands": ["echo partial > state.txt", "exit 3"]},
                {"id": "never", "type": "io.kestra.plugin.core.debug.Return", "format": "x"},
            ),
            {"id": "cleanup", "type": SH, "commands": ["cat state.txt", 'test "$(cat state.txt)" = partial']},
            {"id": "last", "type": "io.kestra.plugin.core.debug.Return", "format": "{{ outputs.cleanup.exitCode }}"},
        )
    )
    assert result is not None and result.state == S.FAILED and "task write of wd ended FAILED" in (result.error or "")
    finals = [(r.task_id, r.state) for _, r in published if r.state.terminal]
    assert finals == [("write", S.FAILED), ("cleanup", S.SUCCESS), ("last", S.SUCCESS)]
    assert published[-1][1].outputs == {"value": "0"}
    assert {r.parent_task_run_id for _, r in published} == set(GROUP_RUN)
    directories = {job.context["workingDir"] for job, _ in published}
    assert len(directories) == 1 and not os.path.exists(directories.pop())


def test_finally_runs_after_successful_tasks() -> None:
    result, published = run_group(
        with_finally(
            group({"id": "write", "type": SH, "commands": ["echo ok > state.txt"]}),
            {"id": "cleanup", "type": SH, "commands": ['test "$(cat state.txt)" = ok']},
        )
    )
    assert result is not None and result.state == S.SUCCESS
    assert [(r.task_id, r.state) for _, r in published if r.state.terminal] == [
        ("write", S.SUCCESS),
        ("cleanup", S.SUCCESS),
    ]


def test_a_failing_finally_task_fails_the_group_and_stops_the_finally_tasks_after_it() -> None:
    result, published = run_group(
        with_finally(
            group({"id": "ok", "type": "io.kestra.plugin.core.debug.Return", "format": "x"}),
            {"id": "tolerated", "type": "io.kestra.plugin.core.execution.Fail", "allowFailure": True},
            {"id": "ko", "type": "io.kestra.plugin.core.execution.Fail"},
            {"id": "never", "type": "io.kestra.plugin.core.debug.Return", "format": "x"},
        )
    )
    assert result is not None and result.state == S.FAILED
    assert "finally task ko of wd ended FAILED" in (result.error or "")
    assert [r.task_id for _, r in published if r.state.terminal] == ["ok", "tolerated", "ko"]


def test_no_finally_task_starts_once_the_group_is_killed() -> None:
    published: list[tuple[WorkerJob, TaskResult]] = []
    spec = with_finally(
        group({"id": "long", "type": SH, "commands": ["sleep 30"]}),
        {"id": "cleanup", "type": "io.kestra.plugin.core.debug.Return", "format": "x"},
    )
    attempt = Attempt(make_job(spec), publish=lambda j, r: published.append((j, r)))
    threading.Timer(0.5, attempt.stop, (StopReason.KILLED,)).start()
    result = attempt.run()
    assert result is not None and result.state == S.KILLED
    assert [(r.task_id, r.state) for _, r in published if r.state.terminal] == [("long", S.KILLED)]


def test_a_working_directory_takes_finally_of_runnable_tasks_only() -> None:
    source = (
        "id: w\nnamespace: conveyor.tests\ntasks:\n  - id: wd\n    type: " + WD + "\n"
        "    tasks: [{id: a, type: io.kestra.plugin.core.debug.Return, format: x}]\n"
        "    finally:\n"
    )
    runnable = "      - {id: f, type: io.kestra.plugin.core.log.Log, message: done}\n"
    flow = load_flow(source + runnable)
    workdir = flow.tasks[0]
    assert isinstance(workdir, WorkingDirectory) and [t.id for t in workdir.finally_] == ["f"]
    flowable = "      - {id: seq, type: io.kestra.plugin.core.flow.Sequential, tasks: [{id: r, type: " + (
        "io.kestra.plugin.core.debug.Return, format: x}]}\n"
    )
    with pytest.raises(FlowError) as caught:
        load_flow(source + flowable)
    assert "only tasks a worker runs can be in a WorkingDirectory's `finally`, not seq" in str(caught.value)


FINALLY_FLOW = FLOW.replace(
    "  - id: after\n",
    "    finally:\n"
    "      - id: cleanup\n"
    "        type: io.kestra.plugin.core.debug.Return\n"
    "        format: cleaned\n"
    "  - id: after\n",
)


def test_the_executor_adopts_the_finally_tasks_the_worker_ran_and_dispatches_none() -> None:
    sim = start(FINALLY_FLOW)
    job = _group_job(sim)
    assert [t["id"] for t in job.task["finally"]] == ["cleanup"]  # the worker runs them
    sim.send(sim.result(job, S.RUNNING))
    _child(sim, job, "a", S.SUCCESS, 1, outputs={"value": "one"})
    _child(sim, job, "b", S.SUCCESS, 2, outputs={"value": "two"})
    _child(sim, job, "cleanup", S.SUCCESS, 3, outputs={"value": "cleaned"})
    assert not sim.jobs
    sim.send(sim.result(job, S.SUCCESS))
    assert [j.task_run.task_id for j in sim.jobs] == ["after"]  # not `cleanup` again
    sim.run_jobs()
    states = {r.task_id: r.state.current for r in sim.ex.task_run_list}
    assert states == {
        "first": S.SUCCESS,
        "wd": S.SUCCESS,
        "a": S.SUCCESS,
        "b": S.SUCCESS,
        "cleanup": S.SUCCESS,
        "after": S.SUCCESS,
    }
    assert sim.runs("cleanup")[0].parent_task_run_id == job.task_run.id
    assert sim.current() == S.SUCCESS


def test_a_failed_finally_task_fails_the_group_without_its_errors_branch() -> None:
    sim = start(FINALLY_FLOW)
    job = _group_job(sim)
    sim.send(sim.result(job, S.RUNNING))
    _child(sim, job, "a", S.SUCCESS, 1)
    _child(sim, job, "b", S.SUCCESS, 2)
    _child(sim, job, "cleanup", S.FAILED, 3, error="boom")
    sim.send(sim.result(job, S.FAILED, error="finally task cleanup of wd ended FAILED"))
    sim.run_jobs()
    states = {r.task_id: r.state.current for r in sim.ex.task_run_list}
    assert states == {"first": S.SUCCESS, "wd": S.FAILED, "a": S.SUCCESS, "b": S.SUCCESS, "cleanup": S.FAILED}
    assert sim.current() == S.FAILED


def test_a_successful_finally_does_not_turn_a_failed_group_into_success() -> None:
    sim = start(FINALLY_FLOW)
    job = _group_job(sim)
    sim.send(sim.result(job, S.RUNNING))
    _child(sim, job, "a", S.FAILED, 1, error="boom")
    _child(sim, job, "cleanup", S.SUCCESS, 3)
    sim.send(sim.result(job, S.FAILED, error="task a of wd ended FAILED"))
    sim.run_jobs()
    states = {r.task_id: r.state.current for r in sim.ex.task_run_list}
    assert states == {"first": S.SUCCESS, "wd": S.FAILED, "a": S.FAILED, "cleanup": S.SUCCESS, "handler": S.SUCCESS}
    assert sim.current() == S.FAILED


def test_no_finally_task_starts_once_the_group_timed_out() -> None:
    spec = with_finally(
        {**group({"id": "long", "type": SH, "commands": ["sleep 30"]}), "timeout": "PT1S"},
        {"id": "cleanup", "type": "io.kestra.plugin.core.debug.Return", "format": "x"},
    )
    result, published = run_group(spec)
    assert result is not None and result.state == S.FAILED
    assert [r.task_id for _, r in published if r.state.terminal] == ["long"]


def test_a_killed_group_ends_killed_without_its_finally_tasks() -> None:
    sim = start(FINALLY_FLOW)
    job = _group_job(sim)
    sim.send(sim.result(job, S.RUNNING))
    created = {"task_id": "a", "parent_task_run_id": job.task_run.id, "task_run_id": "child1", "attempt": 1}
    sim.send(sim.result(job, S.RUNNING).model_copy(update=created))
    sim.kill()
    sim.send(sim.result(job, S.KILLED).model_copy(update=created))
    sim.send(sim.result(job, S.KILLED))
    sim.run_jobs()
    states = {r.task_id: r.state.current for r in sim.ex.task_run_list}
    assert states == {"first": S.SUCCESS, "wd": S.KILLED, "a": S.KILLED}
    assert sim.current() == S.KILLED


def test_a_restart_runs_the_whole_group_again_finally_included() -> None:
    sim = start(FINALLY_FLOW)
    job = _group_job(sim)
    sim.send(sim.result(job, S.RUNNING))
    _child(sim, job, "a", S.FAILED, 1, error="boom")
    _child(sim, job, "cleanup", S.SUCCESS, 2)
    sim.send(sim.result(job, S.FAILED, error="task a of wd ended FAILED"))
    sim.run_jobs()
    assert sim.current() == S.FAILED
    restart(sim)
    (again,) = sim.jobs  # the group as a new attempt of its task run, not `a` alone
    sim.jobs.clear()
    assert (again.task_run.task_id, again.attempt) == ("wd", 2)
    sim.send(sim.result(again, S.RUNNING))
    for n, task_id in enumerate(("a", "b", "cleanup"), start=3):
        _child(sim, again, task_id, S.SUCCESS, n)
    sim.send(sim.result(again, S.SUCCESS))
    sim.run_jobs()
    assert sim.current() == S.SUCCESS
    runs = [(r.task_id, r.state.current) for r in sim.ex.task_run_list if r.parent_task_run_id == job.task_run.id]
    assert runs == [  # the first attempt's task runs are kept
        ("a", S.FAILED),
        ("cleanup", S.SUCCESS),
        ("handler", S.SUCCESS),
        ("a", S.SUCCESS),
        ("b", S.SUCCESS),
        ("cleanup", S.SUCCESS),
    ]
    assert sim.runs("after")[0].state.current == S.SUCCESS
