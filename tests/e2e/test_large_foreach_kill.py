"""Control never waits behind data: a kill sent while a large ForEach floods the executor with task results
ends the execution KILLED (the issue's scenario), and a kill that comes after the end is answered as such."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli import ROOT

pytestmark = pytest.mark.e2e

N = 3000
BIG = f"""
id: big-foreach
namespace: conveyor.tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: {json.dumps([str(i) for i in range(N)])}
    concurrencyLimit: 0
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.05S
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ taskrun.value }}}}"
"""
QUICK = """
id: quick
namespace: conveyor.tests
tasks:
  - {id: ret, type: io.kestra.plugin.core.debug.Return, format: done}
"""


def _submitted(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """The execution id `conveyor run` prints once it has submitted."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "submitted" in line:
            return line.split("execution", 1)[1].split()[0]
    raise AssertionError("conveyor run did not submit")


def test_a_kill_sent_during_a_large_foreach_ends_it_killed(e2e_stack: Any, tmp_path: Path) -> None:
    flow = tmp_path / "big.yaml"
    flow.write_text(BIG)
    run = subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli.main", "run", str(flow), "--timeout", "600"],
        env=e2e_stack.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    execution_id = _submitted(run)
    time.sleep(2.0)  # thousands of jobs and results in flight by now
    done = e2e_stack.cli("kill", execution_id, timeout=120)
    assert done.returncode == 0, done.stderr + e2e_stack.tail()
    assert "KILLING" in done.stderr or "KILLED" in done.stderr, done.stderr
    out, err = run.communicate(timeout=600)
    assert run.returncode == 1, err  # `conveyor run` saw it end KILLED
    assert f"execution {execution_id} KILLED" in " ".join(out.split()), out + err
    final = e2e_stack.cli("kill", execution_id)
    assert final.returncode == 2 and "has already ended KILLED" in final.stderr


def test_a_kill_after_the_end_is_answered_as_such(e2e_stack: Any, tmp_path: Path) -> None:
    flow = tmp_path / "quick.yaml"
    flow.write_text(QUICK)
    execution = e2e_stack.run_json(flow)
    assert execution["state"]["current"] == "SUCCESS"
    done = e2e_stack.cli("kill", execution["id"])
    assert done.returncode == 2 and "has already ended SUCCESS" in done.stderr
