"""Deleting executions end to end (`conveyor delete`): an ended one with files, logs and task runs, and a
running one, whose executor drops it (its attempt killed, no header after the delete)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conveyor.common import control
from conveyor.common.control import UnknownExecution
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.storage import ExecutionScope, open_storage
from conveyor.common.storage.settings import StorageSettings
from conveyor.indexer.queries import search_logs
from tests.cli import ROOT
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ORDERS = """
id: orders
namespace: e2e.delete
inputs:
  - {id: data, type: FILE}
tasks:
  - id: total
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      orders.csv: "{{ inputs.data }}"
    outputFiles: ["sum.txt"]
    commands:
      - "awk -F, 'NR > 1 { sum += $2 } END { print sum }' orders.csv > sum.txt"
  - {id: say, type: io.kestra.plugin.core.log.Log, message: "total {{ read(outputs.total.outputFiles['sum.txt']) }}"}
"""
SLOW = """
id: slow
namespace: e2e.delete
tasks:
  - {id: hello, type: io.kestra.plugin.core.log.Log, message: "about to nap"}
  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT5M}
"""


def _json(stack: Stack, *args: str) -> Any:
    done = stack.cli(*args, "--output", "json")
    assert done.returncode == 0, done.stdout + done.stderr + stack.tail()
    return json.loads(done.stdout)


def _gone(stack: Stack, execution_id: str) -> bool:
    """No execution, task run or log line of it in the search."""
    executions = _json(stack, "executions", "--size", "100")
    runs = _json(stack, "taskruns", "--execution", execution_id)
    lines = _log_lines(stack, execution_id)
    return not any(e["id"] == execution_id for e in executions) and not runs and not lines


def _log_lines(stack: Stack, execution_id: str) -> list[dict[str, Any]]:
    client = elasticsearch_client(stack.es)
    try:
        return search_logs(client, stack.es.index_prefix, execution_id)
    finally:
        client.close()


def _storage(stack: Stack) -> Any:
    return open_storage(StorageSettings(local_root=Path(stack.env["CONVEYOR_HOME"]) / "storage"))


def test_an_ended_execution_goes_with_its_task_runs_logs_and_files(e2e_stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "orders.yaml"
    flow.write_text(ORDERS)
    orders = tmp_path / "orders.csv"
    orders.write_text("id,amount\n1,10\n2,32\n")
    execution = e2e_stack.run_json(flow, "--input", f"data=@{orders}")
    assert execution["state"]["current"] == "SUCCESS", e2e_stack.tail()
    execution_id = execution["id"]
    prefix = ExecutionScope("e2e.delete", "orders", execution_id).prefix
    assert list(_storage(e2e_stack).files(prefix))

    def indexed() -> bool:
        runs = _json(e2e_stack, "taskruns", "--execution", execution_id)
        return len(runs) == 2 and bool(_log_lines(e2e_stack, execution_id))

    assert e2e_stack.poll(indexed, timeout=60), e2e_stack.tail()

    deleted = _json(e2e_stack, "delete", execution_id)
    assert deleted["taskRuns"] == 2 and deleted["files"] == 2, deleted
    assert _gone(e2e_stack, execution_id)
    assert not list(_storage(e2e_stack).files(prefix))
    with pytest.raises(UnknownExecution):  # nothing left on Kafka for a restart or a replay to find
        control.latest_execution(e2e_stack.kafka, execution_id)
    assert control.task_runs(e2e_stack.kafka, execution_id) == []
    restart = e2e_stack.cli("restart", execution_id)
    assert restart.returncode == 2 and "no execution" in restart.stderr
    again = e2e_stack.cli("delete", execution_id)
    assert again.returncode == 2 and "no execution" in again.stderr


def test_a_running_execution_is_dropped_by_its_executor(e2e_stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "slow.yaml"
    flow.write_text(SLOW)
    run = subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli.main", "run", str(flow), "--output", "json"],
        env=e2e_stack.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def napping() -> str | None:
            for e in _json(e2e_stack, "taskruns", "--flow", "slow", "--state", "RUNNING"):
                if e["taskId"] == "nap":
                    return str(e["executionId"])
            return None

        execution_id = e2e_stack.poll(napping, timeout=120)
        assert execution_id, e2e_stack.tail()
        kept = _json(e2e_stack, "delete", execution_id, "--keep-logs")
        assert kept["taskRuns"] == 2, kept
    finally:
        run.kill()
        run.communicate()
    # The executor forgets it: its tombstones follow the delete's and no header comes after them, so the
    # indexer's view stays empty; the worker's attempt was killed (its KILLED report finds no execution).
    assert e2e_stack.poll(lambda: _json(e2e_stack, "executions", "--flow", "slow") == [], timeout=60)
    assert not _json(e2e_stack, "taskruns", "--execution", execution_id)
    assert _log_lines(e2e_stack, execution_id), "--keep-logs keeps the log lines"

    assert e2e_stack.poll(lambda: _ignored(e2e_stack, execution_id), timeout=60), e2e_stack.tail()
    with pytest.raises(UnknownExecution):
        control.latest_execution(e2e_stack.kafka, execution_id)


def _ignored(stack: Stack, execution_id: str) -> bool:
    """The executor's line for the killed attempt's report (the Sleep would run 5 minutes) on the deleted
    execution: the worker stopped it, the executor ignored the report."""
    text = (stack.logs / "executor.log").read_text(errors="replace")
    return f"TaskResult for unknown or ended execution {execution_id}" in text


MANY = """
id: many
namespace: e2e.delete
tasks:
  - {id: hello, type: io.kestra.plugin.core.log.Log, message: "one of many"}
"""


def test_deleting_by_query_asks_for_yes_then_deletes_every_match(e2e_stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "many.yaml"
    flow.write_text(MANY)
    ids = [e2e_stack.run_json(flow)["id"] for _ in range(2)]

    def indexed() -> bool:
        return len(_json(e2e_stack, "executions", "--flow", "many", "--state", "SUCCESS")) == 2

    assert e2e_stack.poll(indexed, timeout=60), e2e_stack.tail()
    both = e2e_stack.cli("delete", ids[0], "--flow", "many")
    assert both.returncode == 2 and "or filters" in both.stderr
    asked = e2e_stack.cli("delete", "--namespace", "e2e.delete", "--flow", "many")
    assert asked.returncode == 2 and "2 execution(s) match" in asked.stderr, asked.stderr
    # the reference's scope (SYSTEM: the `system` namespace's executions) and timeRange (back from now)
    for extra, matched in ((["--scope", "SYSTEM"], 0), (["--scope", "USER", "--time-range", "PT1H"], 2)):
        asked = e2e_stack.cli("delete", "--namespace", "e2e.delete", "--flow", "many", *extra)
        assert asked.returncode == 2 and f"{matched} execution(s) match" in asked.stderr, asked.stderr
    bad = e2e_stack.cli("delete", "--flow", "many", "--time-range", "soon", "--yes")
    assert bad.returncode == 2 and "--time-range" in bad.stderr and "ISO-8601" in bad.stderr, bad.stderr
    assert indexed()
    deleted = _json(e2e_stack, "delete", "--namespace", "e2e.delete", "--flow", "many", "--yes")
    assert deleted == {"count": 2}
    assert all(_gone(e2e_stack, execution_id) for execution_id in ids)
    with pytest.raises(UnknownExecution):
        control.latest_execution(e2e_stack.kafka, ids[1])
