"""Subflow and ForEachItem through the executor core (`tests/unit/world.py`: several executions at once)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from conveyor.common import batches
from conveyor.common.errors import FlowError
from conveyor.common.events import PauseRequested, ResumeRequested
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution, TaskRun
from conveyor.common.state import StateType
from conveyor.common.storage import ExecutionScope, default_storage
from conveyor.common.storage.items import batch_uri
from conveyor.executor import items as items_rule
from conveyor.worker import items
from conveyor.worker.runners.items import restarted_since
from tests import child_flows
from tests.unit.world import World

S = StateType

NS = "sub.test"
CHILD = child_flows.child(NS)
FAILING = child_flows.failing(NS)
SLOW = child_flows.slow(NS)
FAILS_ONCE = child_flows.fails_once(NS)


def parent(flow_id: str, extra: str = "", inputs: str = "{name: Ada}") -> str:
    return f"""
id: parent
namespace: sub.test
labels: {{team: a}}
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: sub.test
    flowId: {flow_id}
    inputs: {inputs}
    labels: {{from: parent}}
{extra}
  - {{id: after, type: io.kestra.plugin.core.debug.Return, format: "{{{{ outputs.call.outputs.greeting ?? 'none' }}}}"}}
"""


def _run(execution: Execution, task_id: str) -> TaskRun:
    return next(r for r in execution.task_run_list if r.task_id == task_id)


@pytest.fixture(autouse=True)
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(tmp_path))
    default_storage.cache_clear()


def test_subflow_waits_and_returns_the_childs_outputs() -> None:
    world = World()
    world.deploy(CHILD)
    pid = world.start(parent("child"))
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    call = _run(ex, "call")
    (child,) = world.children("child")
    assert call.outputs == {"executionId": child.id, "state": "SUCCESS", "outputs": {"greeting": "hello Ada"}}
    assert [a.state.current for a in call.attempts] == [S.SUCCESS]  # one attempt, as the reference records
    after = _run(ex, "after")
    assert after.outputs == {"value": "hello Ada"}
    assert child.trigger is not None and child.trigger.type == "io.kestra.plugin.core.flow.Subflow"
    assert child.trigger.variables["executionId"] == pid
    assert child.trigger.variables["taskRunId"] == call.id
    labels = {label.key: label.value for label in child.labels}
    assert labels == {"from": "parent", "system.correlationId": pid}  # inheritLabels false: not `team`


def test_inherit_labels() -> None:
    world = World()
    world.deploy(CHILD)
    world.start(parent("child", "    inheritLabels: true"))
    world.run()
    (child,) = world.children("child")
    assert {label.key: label.value for label in child.labels}["team"] == "a"


def test_transmit_failed_fails_the_parent() -> None:
    world = World()
    world.deploy(FAILING)
    pid = world.start(parent("failing", inputs="{}"))
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED
    call = _run(ex, "call")
    assert call.state.current == S.FAILED and call.outputs is not None and call.outputs["state"] == "FAILED"


def _failed_parent(flow: str, extra: str = "") -> tuple[World, str]:
    world = World()
    child = world.deploy(flow)
    pid = world.start(parent(child.id, extra, inputs="{}"))
    world.run()
    assert world.execution(pid).state.current == S.FAILED
    return world, pid


def test_a_restart_of_the_parent_restarts_the_failed_child_itself() -> None:
    # The reference's RETRY_FAILED (the default): the failed child execution is restarted, no new child.
    world, pid = _failed_parent(FAILS_ONCE)
    (child,) = world.children("fails-once")
    world.restart(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    assert world.restart_jobs == [child.id]
    (again,) = world.children("fails-once")  # the same execution, restarted
    assert again.id == child.id and again.state.current == S.SUCCESS
    assert S.RESTARTED in [h.state for h in again.state.histories]
    boom = _run(again, "boom")
    assert [a.state.current for a in boom.attempts] == [S.FAILED, S.SUCCESS]  # its failed task run ran again
    call = _run(ex, "call")
    assert call.outputs == {"executionId": child.id, "state": "SUCCESS", "outputs": {"greeting": "one"}}
    assert [a.state.current for a in call.attempts] == [S.FAILED, S.SUCCESS]  # the job's attempt is dropped
    after = _run(ex, "after")
    assert after.outputs == {"value": "one"}


def test_a_restarted_child_that_fails_again_fails_the_parent_again() -> None:
    world, pid = _failed_parent(FAILING)
    (child,) = world.children("failing")
    world.restart(pid)
    world.run()
    assert world.execution(pid).state.current == S.FAILED
    (again,) = world.children("failing")
    assert again.id == child.id and again.state.current == S.FAILED
    call = _run(world.execution(pid), "call")
    assert [a.state.current for a in call.attempts] == [S.FAILED, S.FAILED]


def test_a_restarted_child_that_ends_before_the_restart_jobs_answer_ends_the_parent() -> None:
    # The worker's answer reaches the parent after the child it restarted ended: it must not undo that end.
    world, pid = _failed_parent(FAILS_ONCE)
    (child,) = world.children("fails-once")
    world.late.add("call")
    world.restart(pid)
    world.run()
    assert world.execution(child.id).state.current == S.SUCCESS and world.restart_jobs == [child.id]
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    call = _run(ex, "call")
    assert call.outputs == {"executionId": child.id, "state": "SUCCESS", "outputs": {"greeting": "one"}}
    assert [a.state.current for a in call.attempts] == [S.FAILED, S.SUCCESS]
    assert _run(ex, "after").outputs == {"value": "one"}


def test_a_restarted_childs_end_kept_while_paused_is_not_undone_by_the_restart_jobs_answer() -> None:
    # The parent is paused (`conveyor pause`) while its child restarts: the child's end is kept in the task
    # run's outputs, not yet acted on, when the worker's answer arrives. The answer must not erase it, else the
    # resumed parent waits forever for an end that already came.
    world, pid = _failed_parent(FAILS_ONCE)
    (child,) = world.children("fails-once")
    world.late.add("call")
    world.restart(pid)
    world.queue.append(PauseRequested(execution_id=pid))
    world.run()
    assert world.execution(child.id).state.current == S.SUCCESS and not world.late_results
    assert world.execution(pid).state.current == S.PAUSED
    world.queue.append(ResumeRequested(execution_id=pid))
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    call = _run(ex, "call")
    assert call.outputs == {"executionId": child.id, "state": "SUCCESS", "outputs": {"greeting": "one"}}
    assert [a.state.current for a in call.attempts] == [S.FAILED, S.SUCCESS]


def test_a_restarted_child_that_fails_before_the_restart_jobs_answer_fails_the_parent() -> None:
    world, pid = _failed_parent(FAILING)
    (child,) = world.children("failing")
    world.late.add("call")
    world.restart(pid)
    world.run()
    assert world.restart_jobs == [child.id] and len(world.children("failing")) == 1
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED
    call = _run(ex, "call")
    assert call.outputs is not None and call.outputs["state"] == "FAILED" and "phase" not in call.outputs
    assert [a.state.current for a in call.attempts] == [S.FAILED, S.FAILED]


def test_a_child_that_cannot_be_restarted_answered_late_is_replaced_by_a_new_one() -> None:
    world, pid = _failed_parent(FAILS_ONCE)
    (child,) = world.children("fails-once")
    del world.states[child.id]
    world.late.add("call")
    world.restart(pid)
    world.run()
    assert world.restart_jobs == [child.id]
    (second,) = world.children("fails-once")
    assert second.id != child.id
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED  # the new child fails as the first did
    call = _run(ex, "call")
    assert call.outputs is not None and call.outputs["executionId"] == second.id


def test_a_restart_with_new_execution_starts_a_new_child() -> None:
    world, pid = _failed_parent(FAILS_ONCE, "    restartBehavior: NEW_EXECUTION")
    world.restart(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED  # the new child fails as the first did
    first, second = world.children("fails-once")
    assert first.id != second.id and world.restart_jobs == []
    call = _run(ex, "call")
    assert call.outputs is not None and call.outputs["executionId"] == second.id
    assert [a.state.current for a in call.attempts] == [S.FAILED, S.FAILED]


def test_a_child_that_cannot_be_restarted_is_replaced_by_a_new_one() -> None:
    world, pid = _failed_parent(FAILING)
    (child,) = world.children("failing")
    del world.states[child.id]  # gone (deleted, purged): the worker's look-up finds nothing
    world.restart(pid)
    world.run()
    assert world.restart_jobs == [child.id]
    (second,) = world.children("failing")
    assert second.id != child.id
    call = _run(world.execution(pid), "call")
    assert call.outputs is not None and call.outputs["executionId"] == second.id


def test_a_restarted_child_is_killed_with_its_parent() -> None:
    sleeps_after = FAILS_ONCE.replace(
        "outputs:", "  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT1H}\noutputs:"
    )
    world, pid = _failed_parent(sleeps_after)
    world.hold.add("nap")
    world.restart(pid)
    world.run()
    (child,) = world.children("fails-once")
    assert child.state.current == S.RUNNING and world.execution(pid).state.current == S.RUNNING
    world.kill(pid)
    world.run()
    assert world.execution(pid).state.current == S.KILLED
    assert world.execution(child.id).state.current in (S.KILLING, S.KILLED)


def test_without_transmit_failed_a_failed_child_is_a_success() -> None:
    world = World()
    world.deploy(FAILING)
    pid = world.start(parent("failing", "    transmitFailed: false", inputs="{}"))
    world.run()
    assert world.execution(pid).state.current == S.SUCCESS


def test_no_wait_ends_at_once() -> None:
    world = World()
    world.deploy(SLOW)
    world.hold.add("nap")
    pid = world.start(parent("slow", "    wait: false", inputs="{}"))
    world.run(steps=200)
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    (child,) = world.children("slow")
    assert not child.state.terminal


def test_missing_flow_fails_with_a_clear_message() -> None:
    world = World()
    pid = world.start(parent("nowhere"))
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED
    call = _run(ex, "call")
    assert call.state.current == S.FAILED


def test_kill_propagates_to_the_running_child() -> None:
    world = World()
    world.deploy(SLOW)
    world.hold.add("nap")
    pid = world.start(parent("slow", inputs="{}"))
    world.run(steps=50)
    (child,) = world.children("slow")
    assert child.state.current == S.RUNNING
    world.kill(pid)
    world.run()
    assert world.execution(pid).state.current == S.KILLED
    assert world.execution(child.id).state.current == S.KILLED


# ---- ForEachItem
ITEMS_CHILD = """
id: per-batch
namespace: sub.test
inputs:
  - {id: items, type: STRING}
tasks:
  - {id: count, type: io.kestra.plugin.core.debug.Return, format: "{{ read(inputs.items) | trim }}"}
outputs:
  - {id: value, type: STRING, value: "{{ outputs.count.value }}"}
"""

# A child whose every batch fails.
ITEMS_FAILING = """
id: per-batch-failed
namespace: sub.test
inputs:
  - {id: items, type: STRING}
tasks:
  - {id: boom, type: io.kestra.plugin.core.execution.Fail}
"""


def each(batch: str, flow_id: str = "per-batch", extra: str = "") -> str:
    return child_flows.for_each_item(NS, "each-parent", batch, flow_id, extra)


def upload(lines: int) -> str:
    uri = ExecutionScope("sub.test", "each-parent", "upload").input_file("file", "file.txt")
    default_storage().put(uri, io.BytesIO(child_flows.items_text(lines).encode()))
    return uri


def run_each(batch: str, lines: int = 102, flow: str = ITEMS_CHILD, extra: str = "") -> tuple[World, str]:
    world = World()
    child = world.deploy(flow)
    pid = world.start(each(batch, child.id, extra), {"file": upload(lines)})
    world.run()
    return world, pid


def test_foreachitem_by_rows_the_references_counts() -> None:
    world, pid = run_each("{rows: 4}")
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    (run,) = ex.task_run_list
    assert run.outputs is not None
    assert run.outputs["numberOfBatches"] == 26
    assert run.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}
    children = world.children("per-batch")
    assert len(children) == 26
    last = max(children, key=lambda c: c.trigger.variables["iteration"] if c.trigger else 0)
    assert last.inputs is not None and last.inputs["items"].endswith("/batches/26.txt")
    assert last.outputs == {"value": "100                   101".replace("                   ", "\n" + " " * 17)}
    merged = run.outputs["uri"]
    with default_storage().open(merged) as stream:
        assert len(stream.read().splitlines()) == 26


def test_foreachitem_by_partitions() -> None:
    world, pid = run_each("{partitions: 8}")
    (run,) = world.execution(pid).task_run_list
    assert run.outputs is not None and run.outputs["numberOfBatches"] == 8
    assert run.outputs["iterations"]["SUCCESS"] == 8


def test_foreachitem_by_bytes() -> None:
    world, pid = run_each("{bytes: 210}")  # 21-byte lines: a new batch once one holds 210 bytes
    (run,) = world.execution(pid).task_run_list
    assert run.outputs is not None and run.outputs["numberOfBatches"] == 11


def test_foreachitem_failed_children_fail_it() -> None:
    world, pid = run_each("{rows: 4}", flow=ITEMS_FAILING)
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED
    (run,) = ex.task_run_list
    assert run.outputs is not None and run.outputs["iterations"]["FAILED"] == 26


FINALLY = """
    finally:
      - {id: after, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.each.iterations }}"}
      - {id: second, type: io.kestra.plugin.core.log.Log, message: done}"""


def test_foreachitem_finally_runs_once_after_the_children_and_the_merge() -> None:
    world, pid = run_each("{rows: 50}", extra=FINALLY)
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    runs = {r.task_id: r for r in ex.task_run_list}
    assert set(runs) == {"each", "after", "second"}
    each_run, after = runs["each"], runs["after"]
    assert after.parent_task_run_id == each_run.id and runs["second"].parent_task_run_id == each_run.id
    assert each_run.state.current == S.SUCCESS and each_run.outputs and "uri" in each_run.outputs  # merged first
    assert after.outputs == {"value": '{"CREATED":0,"RUNNING":0,"SUCCESS":3}'}
    assert each_run.state.end_date is not None and after.state.start_date is not None
    assert after.state.start_date <= each_run.state.end_date


def test_foreachitem_finally_runs_after_failed_children_and_the_failure_stays() -> None:
    world, pid = run_each("{rows: 50}", flow=ITEMS_FAILING, extra=FINALLY)
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED
    runs = {r.task_id: r for r in ex.task_run_list}
    assert runs["each"].state.current == S.FAILED
    assert runs["after"].state.current == S.SUCCESS and runs["second"].state.current == S.SUCCESS


def test_foreachitem_no_wait() -> None:
    world, pid = run_each("{rows: 4}", extra="    wait: false")
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.SUCCESS
    assert run.outputs is not None and run.outputs["iterations"] == {"RUNNING": 0, "SUCCESS": 26}


def test_foreachitem_empty_file() -> None:
    world, pid = run_each("{rows: 4}", lines=0)
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.SUCCESS and run.outputs is None
    assert world.children("per-batch") == []


LIGHT_CHILD = """
id: light
namespace: sub.test
inputs:
  - {id: items, type: STRING}
tasks:
  - {id: nothing, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.id }}"}
"""


def test_foreachitem_over_many_batches_starts_them_in_bounded_decisions() -> None:
    # More batches than one decision starts (decide.MAX_STARTS): the rest start through a `continue` timer.
    world, pid = run_each("{rows: 1}", lines=1100, flow=LIGHT_CHILD)
    (run,) = world.execution(pid).task_run_list
    assert run.outputs is not None and run.outputs["iterations"]["SUCCESS"] == 1100
    assert world.largest_event < 20_000  # no event grows with the number of batches


def test_split_streams_lines_and_names_batches(tmp_path: Path) -> None:
    uri = upload(10)
    scope = ExecutionScope("sub.test", "x", "e1")
    assert items.split(uri, scope, "t", "r", rows=3) == 4
    with default_storage().open(batch_uri(scope, "t", "r", ".txt", 4)) as stream:
        assert stream.read() == b"                   9\n"
    assert items.parse_bytes("10MB") == 10 << 20 and items.parse_bytes("200KB") == 200 << 10
    with pytest.raises(items.ItemsError):
        items.parse_bytes("lots")


def test_a_failed_child_is_retried_with_new_children_as_the_reference() -> None:
    """The reference's retry-subflow.yaml (RetryCaseTest.retrySubflow): a flow-level `retry` of 3 attempts
    applies to the Subflow: three children, three FAILED attempts, the parent FAILED."""
    world = World()
    world.deploy(FAILING)
    source = parent("failing", inputs="{}")
    source = source.replace("tasks:", "retry: {type: constant, interval: PT1S, maxAttempt: 3}\ntasks:", 1)
    pid = world.start(source)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED
    call = _run(ex, "call")
    assert [a.state.current for a in call.attempts] == [S.FAILED] * 3
    children = world.children("failing")
    assert len({c.id for c in children}) == 3 and all(c.state.current == S.FAILED for c in children)
    assert call.outputs is not None and call.outputs["executionId"] in {c.id for c in children}
    assert S.RETRYING in [h.state for h in call.state.histories]


def test_a_subflow_with_a_retry_whose_child_succeeds_starts_one_child() -> None:
    world = World()
    world.deploy(CHILD)
    retry = "    retry: {type: constant, interval: PT1S, maxAttempt: 3}"
    pid = world.start(parent("child").replace("    labels: {from: parent}", "    labels: {from: parent}\n" + retry))
    world.run()
    call = _run(world.execution(pid), "call")
    assert call.state.current == S.SUCCESS and [a.state.current for a in call.attempts] == [S.SUCCESS]
    assert len(world.children("child")) == 1


def test_a_kill_during_the_retry_delay_ends_the_subflow_killed() -> None:
    world = World()
    world.deploy(FAILING)
    source = parent("failing", inputs="{}")
    pid = world.start(source.replace("    labels: {from: parent}", "    retry: {type: constant, interval: PT1H}"))
    for _ in range(1_000):
        world.run(steps=1)
        call = _run(world.execution(pid), "call")
        if call.state.current == S.RETRYING:
            break
    assert call.state.current == S.RETRYING
    world.kill(pid)
    world.run()
    ex = world.execution(pid)
    call = _run(ex, "call")
    assert ex.state.current == S.KILLED and call.state.current == S.KILLED
    assert len(world.children("failing")) == 1


def test_restart_behavior_takes_the_references_values() -> None:
    for value in ("RETRY_FAILED", "NEW_EXECUTION"):
        load_flow(parent("child", f"    restartBehavior: {value}"))
    with pytest.raises(FlowError, match="restartBehavior"):
        load_flow(parent("child", "    restartBehavior: SOMETIMES"))


def test_the_split_is_a_worker_job_and_the_executor_reads_no_file() -> None:
    """The executor dispatches the split as a worker job of the ForEachItem task run and writes no batch:
    only the job's result (the number of batches, a URI pattern) starts the children."""
    world = World(hold={"each"})
    child = world.deploy(ITEMS_CHILD)
    pid = world.start(each("{rows: 4}", child.id), {"file": upload(102)})
    world.run()
    (job,) = world.held
    assert job.task["type"] == "io.kestra.plugin.core.flow.ForEachItem"
    assert job.task_run.outputs == {"phase": "split"}
    folder = ExecutionScope("sub.test", "each-parent", pid).task_file("each", job.task_run.id, "batches")
    assert list(default_storage().files(folder)) == []  # nothing split yet: the worker has not run it
    assert world.children(child.id) == []
    world.release(job)
    world.run()
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.SUCCESS and run.outputs is not None
    assert run.outputs["numberOfBatches"] == 26 and "phase" not in run.outputs
    assert [a.state.current for a in run.attempts] == [S.SUCCESS]  # the jobs' attempts are not kept
    assert len(world.children(child.id)) == 26


def test_a_split_that_fails_on_the_worker_fails_the_task_run_with_its_error() -> None:
    world = World()
    child = world.deploy(ITEMS_CHILD)
    pid = world.start(each("{rows: 0}", child.id), {"file": upload(10)})
    world.run()
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.FAILED and world.children(child.id) == []
    assert run.attempts[-1].error is not None and "batch.rows must be at least 1" in run.attempts[-1].error


FLAKY = child_flows.flaky(NS, "[3, 4, 7]")

# The same flow whose batches 3, 4 and 7 fail every time they run (a restart in place does not help them).
ALWAYS = FLAKY.replace(" and taskrun.attemptsCount == 0", "")
FIXED = FLAKY.replace("[3, 4, 7]", "[]")
# Every batch fails on its first run.
EVERY = FLAKY.replace("inputs.iteration in [3, 4, 7] and ", "")


def _flaky_parent(extra: str = "", flow: str = FLAKY, lines: int = 102) -> tuple[World, str]:
    world = World()
    world.deploy(flow)
    pid = world.start(child_flows.with_iteration(each("{rows: 4}", "flaky", extra)), {"file": upload(lines)})
    world.run()
    return world, pid


def _by_batch(world: World) -> dict[int, Execution]:
    found: dict[int, Execution] = {}
    for child in sorted(world.children("flaky"), key=lambda c: c.state.histories[0].date):
        assert child.trigger is not None
        found[child.trigger.variables["iteration"]] = child  # the latest child of each batch
    return found


def _restarted(child: Execution) -> bool:
    return S.RESTARTED in [h.state for h in child.state.histories]


def test_a_restart_restarts_the_failed_batches_children_themselves() -> None:
    # The reference's RETRY_FAILED (ForEachItemCaseTest.restartForEachItem): the failed children are restarted,
    # keep their ids and successful task runs; no new child; the other batches are not touched.
    world, pid = _flaky_parent()
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.FAILED and run.outputs is not None
    assert run.outputs["iterations"]["FAILED"] == 3 and run.outputs["failedBatches"] == [[3, 4], [7, 7]]
    before = _by_batch(world)
    world.restart(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    after = _by_batch(world)
    assert len(world.children("flaky")) == 26  # no new child
    assert {i: c.id for i, c in after.items()} == {i: c.id for i, c in before.items()}
    assert sorted(world.restart_jobs) == sorted(before[i].id for i in (3, 4, 7))
    assert sorted(i for i, c in after.items() if _restarted(c)) == [3, 4, 7]
    assert all(c.state.current == S.SUCCESS for c in after.values())
    count = _run(after[4], "count")
    assert len(count.attempts) == 1  # its successful task run was kept
    (run,) = ex.task_run_list
    assert run.outputs is not None and run.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}
    assert not {"phase", "restartBatches", "refusedBatches", "replaced"} & set(run.outputs)
    assert [a.state.current for a in run.attempts] == [S.FAILED, S.SUCCESS]  # the restart job's attempt dropped
    with default_storage().open(run.outputs["uri"]) as stream:
        merged = stream.read().decode().splitlines()
    assert len(merged) == 26  # the restarted children's outputs are merged with the others'
    assert json.loads(merged[3])["value"] == "\n".join(f"{i:>20}" for i in range(12, 16)).strip()


def test_a_restarted_batch_that_fails_again_fails_the_parent_again() -> None:
    world, pid = _flaky_parent(flow=ALWAYS)
    world.restart(pid)
    world.run()
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.FAILED and run.outputs is not None
    assert run.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 23, "FAILED": 3}
    assert run.outputs["failedBatches"] == [[3, 4], [7, 7]]
    assert len(world.children("flaky")) == 26
    world.restart(pid)  # again: the same children, a third run each
    world.run()
    assert len(world.children("flaky")) == 26 and len(world.restart_jobs) == 6


def test_a_failed_batch_whose_child_is_gone_gets_a_new_child() -> None:
    world, pid = _flaky_parent(flow=ALWAYS)
    gone = _by_batch(world)[4]
    del world.states[gone.id]  # deleted or purged: the worker's look-up finds nothing
    world.restart(pid)
    world.run()
    (run,) = world.execution(pid).task_run_list
    assert run.outputs is not None and run.outputs["replaced"] == [[4, 4, 1]]  # batch 4's child is of run 1
    after = _by_batch(world)
    assert len(world.children("flaky")) == 26 and after[4].id != gone.id and not _restarted(after[4])
    assert sorted(i for i, c in after.items() if _restarted(c)) == [3, 7]
    # A second restart restarts the replacement in place (its id is found from `replaced`).
    world.restart(pid)
    world.run()
    assert _restarted(world.execution(after[4].id)) and len(world.children("flaky")) == 26
    (run,) = world.execution(pid).task_run_list
    assert run.outputs is not None and run.outputs["iterations"]["FAILED"] == 3


def test_too_many_children_that_cannot_be_restarted_run_every_batch_again() -> None:
    # Refusals in more than MAX_RANGES ranges: nothing is sent, the file is split again, all new children.
    world, pid = _flaky_parent(flow=EVERY, lines=4 * 210)
    first = _by_batch(world)
    assert len(first) == 210
    for iteration in range(1, 211, 2):  # 105 single-batch ranges gone
        del world.states[first[iteration].id]
    world.restart(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED  # the new children fail on their first run, as the first ones did
    assert len(world.children("flaky")) == 105 + 210
    assert not any(_restarted(c) for c in world.children("flaky"))
    assert world.largest_event < 20_000


def test_a_restart_with_all_items_runs_every_batch_again() -> None:
    world, pid = _flaky_parent("    restartBehavior: ALL_ITEMS")
    world.deploy(FIXED)
    world.restart(pid)
    world.run()
    assert world.execution(pid).state.current == S.SUCCESS
    assert len(world.children("flaky")) == 26 * 2 and world.restart_jobs == []


def test_a_restart_of_many_failed_batches_keeps_every_record_small() -> None:
    # 300 failed batches restarted in place: the job and its answer carry ranges, not the 300 children.
    world, pid = _flaky_parent(flow=EVERY, lines=4 * 300)
    (run,) = world.execution(pid).task_run_list
    assert run.outputs is not None and run.outputs["failedBatches"] == [[1, 300]]
    world.largest_event = 0
    world.restart(pid)
    world.run()
    assert world.execution(pid).state.current == S.SUCCESS
    assert len(world.restart_jobs) == 300 and len(world.children("flaky")) == 300
    assert world.largest_event < 20_000


def test_batch_generations() -> None:
    replaced = batches.with_generation([], [[4, 6], [9, 9]], 1)
    assert replaced == [[4, 6, 1], [9, 9, 1]]
    replaced = batches.with_generation(replaced, [[5, 5], [7, 8]], 2)
    assert replaced == [[4, 4, 1], [5, 5, 2], [6, 6, 1], [7, 8, 2], [9, 9, 1]]
    assert [batches.generation_of(replaced, 0, i) for i in (1, 4, 5, 6, 8, 9, 10)] == [0, 1, 2, 1, 2, 1, 0]
    assert batches.with_generation([[1, 3, 1]], [[4, 5]], 1) == [[1, 5, 1]]


def test_a_child_restarted_since_the_parents_restart_counts_as_restarted() -> None:
    # The restart job run again (its worker was lost): a child it already restarted is not replaced.
    child = World()
    cid = child.start(EVERY, {"items": upload(1), "iteration": 1})
    child.run()
    ex = child.execution(cid)
    end = ex.state.histories[-1].date
    assert not restarted_since(ex, end)
    child.restart(cid)
    child.run()
    assert restarted_since(child.execution(cid), end) and not restarted_since(child.execution(cid), None)


def test_failed_batches_are_kept_as_bounded_ranges() -> None:
    ranges: list[list[int]] = []
    for number in (5, 3, 4, 9, 7, 8, 4, 1):
        ranges = items_rule.add_to_ranges(ranges, number)
    assert ranges == [[1, 1], [3, 5], [7, 9]]
    assert items_rule.add_to_ranges([[1, 2], [4, 5]], 3) == [[1, 5]]


def test_a_stopped_split_stops_before_the_next_batch() -> None:
    uri = upload(10)
    scope = ExecutionScope("sub.test", "x", "e2")
    asked: list[int] = []

    def stopped() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(items.ItemsError, match="stopped before batch 3"):
        items.split(uri, scope, "t", "r", rows=3, stopped=stopped)
    with default_storage().open(batch_uri(scope, "t", "r", ".txt", 2)) as stream:
        assert stream.read().count(b"\n") == 3
    assert not list(default_storage().files(scope.task_file("t", "r", "batches/3.txt")))


RETRY = "    retry: {type: constant, interval: PT1S, maxAttempt: 3}"


class Flaky:
    """A worker function that raises its first `failures` calls (a storage that fails, then answers)."""

    def __init__(self, real: object, failures: int) -> None:
        self.real, self.failures, self.calls = real, failures, 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError(f"storage unavailable (call {self.calls})")
        return self.real(*args, **kwargs)  # type: ignore[operator]


def test_a_failed_split_is_retried_as_the_tasks_retry_says(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = Flaky(items.split, 2)
    monkeypatch.setattr(items, "split", flaky)
    world, pid = run_each("{rows: 4}", extra=RETRY)
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS and flaky.calls == 3
    (run,) = ex.task_run_list
    assert run.outputs is not None and run.outputs["iterations"]["SUCCESS"] == 26 and "jobFailures" not in run.outputs
    assert [a.state.current for a in run.attempts] == [S.SUCCESS]  # the jobs' attempts are not kept
    assert S.RETRYING in [h.state for h in run.state.histories]
    assert len(world.children("per-batch")) == 26


def test_a_split_is_retried_at_most_max_attempt_times(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = Flaky(items.split, 10)
    monkeypatch.setattr(items, "split", flaky)
    world, pid = run_each("{rows: 4}", extra=RETRY)
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.FAILED and flaky.calls == 3
    assert run.attempts[-1].error is not None and "storage unavailable (call 3)" in run.attempts[-1].error
    assert world.children("per-batch") == []


def test_without_retry_a_failed_split_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = Flaky(items.split, 1)
    monkeypatch.setattr(items, "split", flaky)
    world, pid = run_each("{rows: 4}")
    assert world.execution(pid).state.current == S.FAILED and flaky.calls == 1


def test_a_failed_merge_is_retried_without_new_children(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = Flaky(items.merge_outputs, 1)
    monkeypatch.setattr(items, "merge_outputs", flaky)
    world, pid = run_each("{rows: 4}", extra=RETRY)
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS and flaky.calls == 2
    (run,) = ex.task_run_list
    assert run.outputs is not None and run.outputs["uri"].endswith("outputs.jsonl") and "jobFailures" not in run.outputs
    assert len(world.children("per-batch")) == 26


def test_failed_children_are_not_retried_by_the_foreachitems_retry() -> None:
    world, pid = run_each("{rows: 4}", flow=ITEMS_FAILING, extra=RETRY)
    assert world.execution(pid).state.current == S.FAILED
    assert len(world.children("per-batch-failed")) == 26  # one child per batch, as the reference


def test_a_kill_while_a_split_waits_for_its_retry_ends_it_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(items, "split", Flaky(items.split, 10))
    world = World()
    child = world.deploy(ITEMS_CHILD)
    pid = world.start(each("{rows: 4}", child.id, RETRY.replace("PT1S", "PT1H")), {"file": upload(10)})
    while world.queue:
        world.send(world.queue.popleft())
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.RETRYING
    world.kill(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.KILLED and ex.task_run_list[0].state.current == S.KILLED


def test_a_restart_after_a_failed_merge_merges_again_without_a_new_split(monkeypatch: pytest.MonkeyPatch) -> None:
    split = Flaky(items.split, 0)
    merge = Flaky(items.merge_outputs, 1)
    monkeypatch.setattr(items, "split", split)
    monkeypatch.setattr(items, "merge_outputs", merge)
    world, pid = run_each("{rows: 4}")
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.FAILED and run.outputs is not None and run.outputs["iterations"]["SUCCESS"] == 26
    world.restart(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS
    assert split.calls == 1 and merge.calls == 2  # merged again, not split again
    assert len(world.children("per-batch")) == 26  # the children had ended: none started again
    (run,) = ex.task_run_list
    assert run.outputs is not None and run.outputs["uri"].endswith("outputs.jsonl")


def test_a_failed_split_with_create_new_execution_retries_the_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(items, "split", Flaky(items.split, 1))
    world, pid = run_each("{rows: 4}", extra=RETRY[:-1] + ", behavior: CREATE_NEW_EXECUTION}")
    assert world.execution(pid).state.current == S.RETRIED
    (second,) = [s.execution() for key, s in world.states.items() if s.header.flow_id == "each-parent" and key != pid]
    assert second.state.current == S.SUCCESS and second.metadata.attempt_number == 2


def _delivered(world: World) -> None:
    """Every event delivered, no timer fired: a task run waiting for its retry's delay stays RETRYING."""
    while world.queue:
        world.send(world.queue.popleft())


def test_a_failed_restart_job_is_retried_as_the_tasks_retry_says() -> None:
    # Kafka unreachable for the restart job's look-up, twice: RETRYING, then the same job after the delay (as
    # the split and the merge); then the failed batches' children are restarted in place, no new child.
    world, pid = _flaky_parent(RETRY)
    before = _by_batch(world)
    world.restart_failures = 2
    world.restart(pid)
    _delivered(world)
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.RETRYING and run.outputs is not None
    assert run.outputs["jobFailures"] == 1 and run.outputs["phase"] == "restart"
    assert run.attempts[-1].error == "ConnectionError: Kafka unreachable"
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.SUCCESS and world.restart_failures == 0
    (run,) = ex.task_run_list
    assert [h.state for h in run.state.histories].count(S.RETRYING) == 2
    assert run.outputs is not None and run.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}
    assert "jobFailures" not in run.outputs
    after = _by_batch(world)
    assert len(world.children("flaky")) == 26
    assert {i: c.id for i, c in after.items()} == {i: c.id for i, c in before.items()}
    assert sorted(i for i, c in after.items() if _restarted(c)) == [3, 4, 7]


def test_a_restart_job_is_retried_at_most_max_attempt_times() -> None:
    world, pid = _flaky_parent(RETRY)
    world.restart_failures = 10
    world.restart(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED and world.restart_failures == 10 - 3  # maxAttempt: 3 tries
    (run,) = ex.task_run_list
    assert run.attempts[-1].error == "ConnectionError: Kafka unreachable"
    assert len(world.children("flaky")) == 26 and not any(_restarted(c) for c in world.children("flaky"))


def test_without_retry_a_failed_restart_job_fails_the_task_run() -> None:
    world, pid = _flaky_parent()
    world.restart_failures = 2
    world.restart(pid)
    world.run()
    assert world.execution(pid).state.current == S.FAILED and world.restart_failures == 1


def test_a_restart_job_retried_after_failing_part_way_restarts_no_child_twice() -> None:
    # The first try sent batch 3's child's restart, then Kafka went away; batch 3 failed again meanwhile. The
    # retried job restarts batches 4 and 7 only: each child restarted once, each end counted once.
    world, pid = _flaky_parent(RETRY, flow=ALWAYS)
    world.restart_failures, world.restart_fails_in = 1, "send"
    world.restart(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.FAILED
    after = _by_batch(world)
    assert len(world.children("flaky")) == 26
    restarts = {i: [h.state for h in c.state.histories].count(S.RESTARTED) for i, c in after.items()}
    assert {i: n for i, n in restarts.items() if n} == {3: 1, 4: 1, 7: 1}
    (run,) = ex.task_run_list
    assert run.outputs is not None and "replaced" not in run.outputs
    assert run.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 23, "FAILED": 3}
    assert run.outputs["failedBatches"] == [[3, 4], [7, 7]]


def test_a_kill_while_a_restart_job_waits_for_its_retry_ends_it_killed() -> None:
    # The first try restarted batch 3's child (it runs, held), then failed; the kill during the delay ends the
    # task run KILLED, kills that child, and the job is not tried again.
    world, pid = _flaky_parent(RETRY.replace("PT1S", "PT1H"))
    world.restart_failures, world.restart_fails_in = 10, "send"
    world.hold.add("maybe")
    world.restart(pid)
    _delivered(world)
    (run,) = world.execution(pid).task_run_list
    assert run.state.current == S.RETRYING
    running = [c for c in world.children("flaky") if c.state.current == S.RUNNING]
    assert len(running) == 1 and _restarted(running[0])
    world.kill(pid)
    world.run()
    ex = world.execution(pid)
    assert ex.state.current == S.KILLED and ex.task_run_list[0].state.current == S.KILLED
    assert world.restart_failures == 9  # not tried again
    assert world.execution(running[0].id).state.current in (S.KILLING, S.KILLED)
