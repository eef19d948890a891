"""Acceptance of issue 4 through the CLI on the real servers: retries, timeouts, kill and restart.

Every execution that needs no interaction is submitted at once when the module starts (`launched`), so the
module takes about as long as its slowest flow. Assertions use the dates the executor and the workers
recorded on the attempts and states, never the wall clock of the test.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli import ROOT
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

NS = "conveyor.issue4"
FAIL = "io.kestra.plugin.core.execution.Fail"
SLEEP = "io.kestra.plugin.core.flow.Sleep"
COMMANDS = "io.kestra.plugin.scripts.shell.Commands"
LOG = "io.kestra.plugin.core.log.Log"
# Fails when the marker file is absent (and creates it), succeeds when it is there.
FLAKY = 'if [ -f "$MARKER" ]; then echo second; else touch "$MARKER"; echo first >&2; exit 1; fi'


def flows(tmp: Path) -> dict[str, str]:
    return {
        "fail-retry": f"""
tasks:
  - id: boom
    type: {FAIL}
    retry: {{type: constant, interval: PT0.3S, maxAttempt: 3}}
""",
        "flaky": f"""
tasks:
  - id: flaky
    type: {COMMANDS}
    env: {{MARKER: "{tmp / "flaky.marker"}"}}
    commands: ['{FLAKY}']
    retry: {{type: constant, interval: PT0.3S, maxAttempt: 3}}
""",
        "flaky-warning": f"""
tasks:
  - id: flaky
    type: {COMMANDS}
    env: {{MARKER: "{tmp / "flaky-warning.marker"}"}}
    commands: ['{FLAKY}']
    retry: {{type: constant, interval: PT0.3S, maxAttempt: 3, warningOnRetry: true}}
""",
        "max-duration": f"""
tasks:
  - id: boom
    type: {FAIL}
    retry: {{type: constant, interval: PT1S, maxAttempt: 10, maxDuration: PT3S}}
""",
        "exponential": f"""
tasks:
  - id: boom
    type: {FAIL}
    retry: {{type: exponential, interval: PT0.5S, maxInterval: PT10S, delayFactor: 2, maxAttempt: 4}}
""",
        "new-execution": f"""
retry: {{type: constant, interval: PT0.3S, maxAttempt: 2, behavior: CREATE_NEW_EXECUTION}}
tasks:
  - {{id: boom, type: {FAIL}, errorMessage: try again}}
""",
        "timeout": f"""
tasks:
  - {{id: nap, type: {SLEEP}, duration: PT60S, timeout: PT1S}}
""",
        "restart": f"""
tasks:
  - {{id: before, type: {LOG}, message: first}}
  - id: check
    type: {COMMANDS}
    commands: ['test -f "{tmp / "ready"}"']
  - {{id: after, type: {LOG}, message: done}}
""",
    }


@dataclass
class Launched:
    stack: Stack
    folder: Path
    procs: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self, name: str, body: str) -> subprocess.Popen[str]:
        path = self.folder / f"{name}.yaml"
        path.write_text(f"id: {name}\nnamespace: {NS}\n{body}")
        proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", "run", str(path), "--output", "json", "--timeout", "240"],
            env=self.stack.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs[name] = proc
        return proc

    def result(self, name: str) -> dict[str, Any]:
        if name not in self.results:
            proc = self.procs[name]
            out, err = proc.communicate(timeout=300)
            assert proc.returncode in (0, 1), f"{name}: exit {proc.returncode}\n{err}\n{self.stack.tail()}"
            self.results[name] = json.loads(out)
        return self.results[name]


@pytest.fixture(scope="module")
def launched(e2e_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    folder = tmp_path_factory.mktemp("issue4")
    runs = Launched(e2e_stack, folder)
    for name, body in flows(folder).items():
        runs.start(name, body)
    yield runs
    for proc in runs.procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def when(state: dict[str, Any], name: str) -> datetime:
    """The date the state history recorded `name` (the last time)."""
    return datetime.fromisoformat([h for h in state["histories"] if h["state"] == name][-1]["date"])


def start_of(attempt: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(attempt["state"]["histories"][0]["date"])


def end_of(attempt: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(attempt["state"]["histories"][-1]["date"])


def current(thing: dict[str, Any]) -> str:
    return str(thing["state"]["current"])


def the_run(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    run: dict[str, Any]
    (run,) = [r for r in execution["taskRunList"] if r["taskId"] == task_id]
    return run


def test_constant_retry_keeps_three_failed_attempts_on_one_task_run(launched: Launched) -> None:
    execution = launched.result("fail-retry")
    assert current(execution) == "FAILED"
    (run,) = execution["taskRunList"]
    assert [current(a) for a in run["attempts"]] == ["FAILED"] * 3
    assert all(a["workerId"] for a in run["attempts"])
    histories = [h["state"] for h in run["state"]["histories"]]
    assert histories.count("RETRYING") == 2 and histories[-1] == "FAILED"
    for earlier, later in itertools.pairwise(run["attempts"]):
        assert start_of(later) - end_of(earlier) >= timedelta(seconds=0.3)


@pytest.mark.parametrize(("name", "final"), [("flaky", "SUCCESS"), ("flaky-warning", "WARNING")])
def test_commands_failing_once_succeeds_on_the_second_attempt(launched: Launched, name: str, final: str) -> None:
    execution = launched.result(name)
    assert current(execution) == final, launched.stack.tail()
    run = the_run(execution, "flaky")
    assert [current(a) for a in run["attempts"]] == ["FAILED", "SUCCESS"]
    assert current(run) == final


def test_max_duration_stops_retries_before_max_attempt(launched: Launched) -> None:
    execution = launched.result("max-duration")
    assert current(execution) == "FAILED"
    run = the_run(execution, "boom")
    attempts = run["attempts"]
    assert 2 <= len(attempts) < 10
    # the next attempt would have started past maxDuration (PT3S) after the first attempt's start
    assert when(run["state"], "FAILED") + timedelta(seconds=1) - start_of(attempts[0]) > timedelta(seconds=3)


def test_exponential_intervals_grow(launched: Launched) -> None:
    run = the_run(launched.result("exponential"), "boom")
    starts = [start_of(a) for a in run["attempts"]]
    assert len(starts) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # each gap is at least its scheduled delay (0.5, 1, 2 s: they grow); the first and last compared only,
    # for a latency spike of more than 0.5 s on one retry (a loaded box) must not fail it
    assert gaps[0] < gaps[2]
    for gap, delay in zip(gaps, (0.5, 1.0, 2.0), strict=True):
        assert gap >= timedelta(seconds=delay)


def test_create_new_execution_retries_the_flow_as_a_linked_execution(launched: Launched) -> None:
    # `conveyor run` follows the retried execution to the new one that replaced it, to the last
    last = launched.result("new-execution")
    assert current(last) == "FAILED" and last["metadata"]["attemptNumber"] == 2
    assert last["originalId"] != last["id"]
    assert [len(r["attempts"]) for r in last["taskRunList"]] == [1]

    def first() -> dict[str, Any] | None:
        done = launched.stack.cli("executions", "--flow", "new-execution", "--output", "json")
        assert done.returncode == 0, done.stderr
        found = [e for e in json.loads(done.stdout) if e["id"] == last["originalId"]]
        return found[0] if found and found[0]["state"]["current"] == "RETRIED" else None

    retried = launched.stack.poll(first, timeout=60)
    assert retried, launched.stack.tail()
    assert [h["state"] for h in retried["state"]["histories"]][-2:] == ["RETRYING", "RETRIED"]
    assert retried["metadata"]["attemptNumber"] == 1
    assert when(last["state"], "CREATED") >= when(retried["state"], "RETRYING") + timedelta(seconds=0.3)


def test_timeout_fails_the_attempt_as_timed_out(launched: Launched) -> None:
    execution = launched.result("timeout")
    assert current(execution) == "FAILED"
    (attempt,) = the_run(execution, "nap")["attempts"]
    assert current(attempt) == "FAILED" and "timed out after PT1S" in attempt["error"]
    assert end_of(attempt) - start_of(attempt) < timedelta(seconds=30)


def test_restart_after_the_cause_is_removed_ends_success_keeping_the_old_attempt(launched: Launched) -> None:
    failed = launched.result("restart")
    assert current(failed) == "FAILED" and not any(r["taskId"] == "after" for r in failed["taskRunList"])
    (launched.folder / "ready").touch()
    done = launched.stack.cli("restart", failed["id"], "--wait", "--output", "json", "--timeout", "120")
    assert done.returncode == 0, done.stderr + launched.stack.tail()
    execution = json.loads(done.stdout)
    assert execution["id"] == failed["id"] and current(execution) == "SUCCESS"
    assert [h["state"] for h in execution["state"]["histories"]][-4:] == ["FAILED", "RESTARTED", "RUNNING", "SUCCESS"]
    before, check = the_run(execution, "before"), the_run(execution, "check")
    assert before == the_run(failed, "before")  # kept as it was
    assert [current(a) for a in check["attempts"]] == ["FAILED", "SUCCESS"]
    assert check["attempts"][0] == the_run(failed, "check")["attempts"][0]
    assert "RESTARTED" in [h["state"] for h in check["state"]["histories"]]
    assert current(the_run(execution, "after")) == "SUCCESS"
    assert execution["revision"] > failed["revision"]


def test_restart_or_kill_refused_clearly_for_an_execution_that_cannot_take_it(launched: Launched) -> None:
    succeeded = launched.result("flaky")
    done = launched.stack.cli("restart", succeeded["id"])
    assert done.returncode == 2
    assert f"execution {succeeded['id']} is SUCCESS" in done.stderr
    assert "only a FAILED or KILLED execution can be restarted" in done.stderr
    done = launched.stack.cli("kill", succeeded["id"])
    assert done.returncode == 2 and "has already ended SUCCESS: there is nothing to kill" in done.stderr
    done = launched.stack.cli("kill", "no-such-execution")
    assert done.returncode == 2 and "no execution no-such-execution" in done.stderr


def test_kill_stops_a_running_sleep_and_ends_killed(launched: Launched) -> None:
    run_proc = launched.start("kill-me", f"tasks:\n  - {{id: nap, type: {SLEEP}, duration: PT60S}}\n")

    def running() -> dict[str, Any] | None:
        done = launched.stack.cli("taskruns", "--flow", "kill-me", "--output", "json")
        found = [r for r in json.loads(done.stdout or "[]") if r["attempts"]]
        ok = found and found[0]["attempts"][-1]["state"]["current"] == "RUNNING"
        return found[0] if ok else None

    nap = launched.stack.poll(running, timeout=120)
    assert nap, launched.stack.tail()
    execution_id = nap["executionId"]
    done = launched.stack.cli("restart", execution_id)
    assert done.returncode == 2 and "is RUNNING (it has not ended)" in done.stderr

    done = launched.stack.cli("kill", execution_id, "--wait", "--output", "json", "--timeout", "120")
    assert done.returncode == 0, done.stderr + launched.stack.tail()
    killed = json.loads(done.stdout)
    assert current(killed) == "KILLED"
    (run,) = killed["taskRunList"]
    assert current(run) == "KILLED"
    (attempt,) = run["attempts"]
    assert current(attempt) == "KILLED" and attempt["workerId"]
    # the worker stopped the Sleep: the kill ended well within the executor's 20 s grace period
    assert when(killed["state"], "KILLED") - when(killed["state"], "KILLING") < timedelta(seconds=10)
    assert end_of(attempt) - start_of(attempt) < timedelta(seconds=60)
    assert run_proc.wait(timeout=60) == 1  # `conveyor run` saw it end KILLED
    assert current(launched.result("kill-me")) == "KILLED"

    done = launched.stack.cli("kill", execution_id)
    assert done.returncode == 2 and "has already ended KILLED" in done.stderr
