"""The Kestra conformance corpus end to end: every case of `tests/corpus/kestra/expectations.json`
run through the real CLI, executor, workers and indexer on the real servers.

All cases run at once (a thread pool of `conveyor run --output json` processes) in one module fixture;
each test then checks its own case's `expect` and `inferred` blocks against the final execution and, where
the case says something about logs, the lines `conveyor logs EXECUTION_ID --output json --wait` prints.
Raw inputs (the reference's tests put values straight into the execution) go through the advanced
`--inputs-json … --raw-inputs` options; typed ones through `--input NAME=VALUE`.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from tests.conformance import Case, check, load_cases
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]  # the module fixture runs all 87 cases

WORKERS = 2
# Cases run at once; each is a `conveyor run` process (and a `conveyor logs` one where logs matter).
PARALLEL = 10
CASES = load_cases()
# Cases that cannot pass by design, with the reason.
XFAIL: dict[str, str] = {}


@dataclass
class Ran:
    execution: dict[str, Any] | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""


def _wants_logs(case: Case) -> bool:
    return any(key in block for block in (case.expect, case.inferred) for key in ("logs", "logCount"))


def _run(stack: Stack, case: Case) -> Ran:
    args = ["run", str(case.flow), "--output", "json", "--timeout", "180"]
    if case.inputs_mode == "raw":
        args += ["--inputs-json", json.dumps(case.inputs), "--raw-inputs"]
    else:
        for name, value in case.inputs.items():
            args += ["--input", f"{name}={value}"]
    for key, value in case.labels.items():
        args += ["--label", f"{key}={value}"]
    done = stack.cli(*args, timeout=240)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        return Ran(problem=f"conveyor run exited {done.returncode}: {done.stderr[-2000:]}")
    execution = json.loads(done.stdout)
    if not _wants_logs(case):
        return Ran(execution)
    shown = stack.cli("logs", execution["id"], "--output", "json", "--wait", "60", timeout=120)
    if shown.returncode != 0:
        return Ran(execution, problem=f"conveyor logs exited {shown.returncode}: {shown.stderr[-2000:]}")
    return Ran(execution, json.loads(shown.stdout))


@pytest.fixture(scope="module")
def ran(e2e_stack: Stack) -> dict[str, Ran]:
    e2e_stack.wait_for_workers(WORKERS)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {case.label: pool.submit(_run, e2e_stack, case) for case in CASES}
        return {label: future.result() for label, future in futures.items()}


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(reason=XFAIL[case.label], strict=True)] if case.label in XFAIL else []
    return pytest.param(case, id=case.label, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case_holds_end_to_end(case: Case, ran: dict[str, Ran], e2e_stack: Stack) -> None:
    result = ran[case.label]
    assert result.execution is not None, result.problem + "\n" + e2e_stack.tail()
    assert not result.problem, result.problem
    execution = result.execution
    # The reference's tests compare dates with the moment the execution ended.
    ended = datetime.fromisoformat(execution["state"]["histories"][-1]["date"].replace("Z", "+00:00"))
    problems = check(case, execution, result.logs, inferred=True, now=ended)
    assert not problems, "\n".join(problems)
