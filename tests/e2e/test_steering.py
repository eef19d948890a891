"""Acceptance of issue 16's "Steering executions" through the CLI and the HTTP API on the real servers: a Pause
resumed with an onResume input, a Pause with a delay resumed by its timer after the executor was SIGKILLed and
started again, pausing a running execution, replay from a task run, and changes of state by hand (one that runs an
ended execution again waits for its flow's concurrency slot).

Assertions use the dates the executor recorded in the state histories, never the test's wall clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.common import control
from tests.apiserver import ADMIN_AUTH, serving
from tests.cli import ROOT
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

NS = "conveyor.steering"
RETURN = "io.kestra.plugin.core.debug.Return"
PAUSE = "io.kestra.plugin.core.flow.Pause"
COMMANDS = "io.kestra.plugin.scripts.shell.Commands"
FAIL = "io.kestra.plugin.core.execution.Fail"
SLEEP = "io.kestra.plugin.core.flow.Sleep"

APPROVE = f"""
tasks:
  - {{id: before, type: {RETURN}, format: ready}}
  - id: wait
    type: {PAUSE}
    onResume:
      - {{id: approved, type: BOOLEAN}}
      - {{id: reason, type: STRING, defaults: fine}}
  - id: after
    type: {RETURN}
    format: "{{{{ outputs.wait.onResume.approved }}}} {{{{ outputs.wait.onResume.reason }}}}"
"""
DELAYED = f"""
tasks:
  - {{id: pause, type: {PAUSE}, delay: PT60S}}
  - {{id: last, type: {RETURN}, format: awake}}
"""
NAP = f"""
tasks:
  - {{id: nap, type: {SLEEP}, duration: PT4S}}
  - {{id: after, type: {RETURN}, format: done}}
"""
FAILING = f"""
tasks:
  - {{id: boom, type: {FAIL}, errorMessage: broken}}
  - {{id: next, type: {RETURN}, format: went on}}
"""


def replayed(marker: Path) -> str:
    return f"""
inputs:
  - {{id: who, type: STRING}}
tasks:
  - {{id: first, type: {RETURN}, format: "one {{{{ inputs.who }}}}"}}
  - id: check
    type: {COMMANDS}
    commands: ['test -f "{marker}"']
  - {{id: last, type: {RETURN}, format: "last {{{{ outputs.first.value }}}}"}}
"""


class Steering:
    def __init__(self, stack: Stack, folder: Path) -> None:
        self.stack = stack
        self.folder = folder
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, body: str, *args: str) -> subprocess.Popen[str]:
        path = self.folder / f"{name}.yaml"
        path.write_text(f"id: {name}\nnamespace: {NS}\n{body}")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "conveyor.cli.main",
                "run",
                str(path),
                "--output",
                "json",
                "--timeout",
                "300",
                *args,
            ],
            env=self.stack.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs[name] = proc
        return proc

    def ended(self, name: str) -> dict[str, Any]:
        out, err = self.procs[name].communicate(timeout=600)
        assert self.procs[name].returncode in (0, 1), f"{name}: {err}\n{self.stack.tail()}"
        return dict(json.loads(out))

    def execution_in(self, flow: str, state: str, timeout: float = 400) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            done = self.stack.cli("executions", "--flow", flow, "--output", "json")
            rows = [e for e in json.loads(done.stdout or "[]") if e["state"]["current"] == state]
            return rows[0] if rows else None

        execution = self.stack.poll(found, timeout=timeout)
        assert execution, f"no {state} execution of {flow}\n{self.stack.tail()}"
        return dict(execution)

    def cli_json(self, *args: str) -> dict[str, Any]:
        done = self.stack.cli(*args, "--wait", "--output", "json", "--timeout", "180")
        assert done.returncode in (0, 1), f"{args}: exit {done.returncode}\n{done.stderr}\n{self.stack.tail()}"
        return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def steering(e2e_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Steering]:
    folder = tmp_path_factory.mktemp("steering")
    s = Steering(e2e_stack, folder)
    s.start("approve", APPROVE)
    s.start("failing", FAILING)
    s.start("replayed", replayed(folder / "ready"), "--input", "who=Ada")
    yield s
    for proc in s.procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # closes its pipes


def states(thing: dict[str, Any]) -> list[str]:
    return [h["state"] for h in thing["state"]["histories"]]


def when(thing: dict[str, Any], state: str, nth: int = 0) -> datetime:
    dates = [h["date"] for h in thing["state"]["histories"] if h["state"] == state]
    return datetime.fromisoformat(dates[nth])


def the_run(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    (run,) = [r for r in execution["taskRunList"] if r["taskId"] == task_id]
    return dict(run)


def test_a_pause_is_resumed_with_an_onresume_input(steering: Steering) -> None:
    paused = steering.execution_in("approve", "PAUSED")
    execution_id = paused["id"]
    bad = steering.stack.cli("resume", execution_id, "--input", "approved=perhaps")
    assert bad.returncode == 2 and "approved" in bad.stderr, bad.stderr
    unknown = steering.stack.cli("resume", execution_id, "--input", "nope=1")
    assert unknown.returncode == 2 and "unknown onResume input 'nope'" in unknown.stderr, unknown.stderr
    done = steering.cli_json("resume", execution_id, "--input", "approved=true")
    assert done["state"]["current"] == "SUCCESS"
    wait = the_run(done, "wait")
    assert states(wait) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert wait["outputs"] == {"onResume": {"approved": True, "reason": "fine"}}
    assert the_run(done, "after")["outputs"] == {"value": "true fine"}
    assert states(done) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert steering.ended("approve")["state"]["current"] == "SUCCESS"  # `conveyor run` followed it to its end
    again = steering.stack.cli("resume", execution_id)
    assert again.returncode == 2 and "not PAUSED" in again.stderr


def test_a_pause_delay_resumes_by_its_timer_after_an_executor_sigkill(steering: Steering) -> None:
    steering.start("delayed", DELAYED)
    paused = steering.execution_in("delayed", "PAUSED")
    assert control.latest_execution(steering.stack.kafka, paused["id"]).execution.state.current == "PAUSED"
    steering.stack.kill("executor")  # SIGKILL: the timer lives only in the executor-state records
    steering.stack.start("executor", "executor")
    done = steering.ended("delayed")
    assert done["id"] == paused["id"] and done["state"]["current"] == "SUCCESS", steering.stack.tail()
    pause = the_run(done, "pause")
    assert states(pause) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert when(pause, "RUNNING", 1) - when(pause, "PAUSED") >= timedelta(seconds=60)
    assert the_run(done, "last")["outputs"] == {"value": "awake"}


def test_a_running_execution_is_paused_then_resumed(steering: Steering) -> None:
    steering.start("nap", NAP)
    running = steering.execution_in("nap", "RUNNING")
    done = steering.stack.cli("pause", running["id"])
    assert done.returncode == 0, done.stderr
    paused = steering.execution_in("nap", "PAUSED")

    def napped() -> bool:
        found = steering.stack.cli("taskruns", "--execution", paused["id"], "--output", "json")
        return any(r["taskId"] == "nap" and r["state"]["current"] == "SUCCESS" for r in json.loads(found.stdout))

    assert steering.stack.poll(napped, timeout=60)  # the running attempt ended; nothing new started
    resumed = steering.cli_json("resume", paused["id"])
    assert resumed["state"]["current"] == "SUCCESS"
    assert states(resumed) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert when(the_run(resumed, "after"), "CREATED") > when(resumed, "PAUSED")
    assert when(the_run(resumed, "after"), "CREATED") >= when(resumed, "RUNNING", 1)


def test_replay_from_a_task_run_keeps_the_runs_before_it(steering: Steering) -> None:
    old = steering.ended("replayed")
    assert old["state"]["current"] == "FAILED"
    (steering.folder / "ready").write_text("")
    check = the_run(old, "check")
    done = steering.stack.cli("replay", old["id"], "--from", check["id"], "--wait", "--output", "json")
    assert done.returncode == 0, done.stderr + steering.stack.tail()
    new = json.loads(done.stdout)
    assert new["id"] != old["id"] and new["originalId"] == old["id"]
    assert new["state"]["current"] == "SUCCESS" and new["inputs"] == {"who": "Ada"}
    assert new["flowRevision"] == old["flowRevision"]
    first_old, first_new = the_run(old, "first"), the_run(new, "first")
    assert first_new["id"] != first_old["id"] and first_new["outputs"] == first_old["outputs"]
    assert first_new["state"]["histories"] == first_old["state"]["histories"]  # copied, not run again
    assert len(the_run(new, "check")["attempts"]) == 1
    assert the_run(new, "last")["outputs"] == {"value": "last one Ada"}
    assert states(new) == ["RESTARTED", "RUNNING", "SUCCESS"]
    unknown = steering.stack.cli("replay", old["id"], "--from", "no-such-run")
    assert unknown.returncode == 2 and "no task run no-such-run" in unknown.stderr


def test_change_state_of_a_failed_task_run_lets_the_execution_go_on(steering: Steering) -> None:
    old = steering.ended("failing")
    assert old["state"]["current"] == "FAILED"
    boom = the_run(old, "boom")
    bad = steering.stack.cli("change-state", old["id"], boom["id"], "RUNNING")
    assert bad.returncode == 2 and "SUCCESS, WARNING or FAILED" in bad.stderr
    done = steering.cli_json("change-state", old["id"], boom["id"], "WARNING")
    assert done["state"]["current"] == "WARNING"
    assert states(done)[-4:] == ["FAILED", "RESTARTED", "RUNNING", "WARNING"]
    assert states(the_run(done, "boom"))[-2:] == ["FAILED", "WARNING"]
    assert the_run(done, "next")["outputs"] == {"value": "went on"}
    # the ended execution's own state, by hand
    changed = steering.cli_json("change-state", old["id"], "SUCCESS")
    assert states(changed)[-2:] == ["WARNING", "SUCCESS"]


def test_the_api_steers_too(steering: Steering) -> None:
    stack = steering.stack
    steering.start("approve-api", APPROVE)
    paused = steering.execution_in("approve-api", "PAUSED")
    path = f"/api/v1/executions/{paused['id']}"
    with serving(stack.kafka, stack.es) as base, httpx.Client(base_url=base, auth=ADMIN_AUTH, timeout=60) as http:
        bad = http.post(f"{path}/resume", json={"approved": "perhaps"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["parameter"] == "inputs.approved", bad.text
        ok = http.post(f"{path}/resume", json={"approved": False, "reason": "no"})
        assert ok.status_code == 202 and ok.json()["requested"] == "resume", ok.text
        done = steering.ended("approve-api")
        assert the_run(done, "after")["outputs"] == {"value": "false no"}
        again = http.post(f"{path}/resume", json={})
        assert again.status_code == 409 and "not PAUSED" in again.json()["message"], again.text
        status = http.post(f"{path}/change-status", params={"status": "RUNNING"})
        assert status.status_code == 422 and status.json()["errors"][0]["parameter"] == "state", status.text
        replay = http.post(f"{path}/replay", params={"taskRunId": the_run(done, "wait")["id"]})
        assert replay.status_code == 202 and replay.json()["replayId"], replay.text
        replay_id = replay.json()["replayId"]

        def paused_again() -> dict[str, Any] | None:  # the replay runs from the Pause on: PAUSED again
            # the execution's document and its task runs' are indexed apart: wait for the kept run too
            answer = http.get(f"/api/v1/executions/{replay_id}")
            if answer.status_code != 200 or answer.json()["state"]["current"] != "PAUSED":
                return None
            found: dict[str, Any] = answer.json()
            return found if {"before", "wait"} <= {r["taskId"] for r in found["taskRunList"]} else None

        again_paused = stack.poll(paused_again, timeout=400)
        assert again_paused and again_paused["originalId"] == paused["id"], stack.tail()
        runs = {r["taskId"]: r for r in again_paused["taskRunList"]}
        assert runs["before"]["outputs"] == {"value": "ready"} and runs["wait"]["state"]["current"] == "PAUSED"
        killed = http.post(f"/api/v1/executions/{replay_id}/kill")
        assert killed.status_code == 202, killed.text


LIMITED = f"""
concurrency: {{limit: 1}}
inputs:
  - {{id: hold, type: STRING, defaults: PT0S}}
tasks:
  - {{id: hold, type: {PAUSE}, delay: "{{{{ inputs.hold }}}}"}}
  - {{id: boom, type: {FAIL}, condition: "{{{{ inputs.hold == 'PT0S' }}}}", errorMessage: broken}}
"""


def test_a_change_of_state_that_runs_an_ended_execution_again_waits_for_its_flow_s_slot(steering: Steering) -> None:
    stack = steering.stack
    path = steering.folder / "limited.yaml"
    path.write_text(f"id: limited\nnamespace: {NS}\n{LIMITED}")
    first = stack.cli("run", str(path), "--output", "json", "--timeout", "300", timeout=400)
    failed = json.loads(first.stdout)
    assert failed["state"]["current"] == "FAILED", first.stderr
    steering.start("limited", LIMITED, "--input", "hold=PT30S")  # holds the flow's one slot, paused 30 s
    holder = steering.execution_in("limited", "PAUSED")
    done = steering.cli_json("change-state", failed["id"], the_run(failed, "boom")["id"], "WARNING")
    other = steering.ended("limited")
    assert other["id"] == holder["id"] and other["state"]["current"] == "SUCCESS"
    assert done["state"]["current"] == "WARNING"
    # From the recorded dates: it ran again (the RUNNING after its RESTARTED) only once the holder freed the slot.
    history = done["state"]["histories"]
    restarted = max(i for i, h in enumerate(history) if h["state"] == "RESTARTED")
    again = next(h for h in history[restarted:] if h["state"] == "RUNNING")
    freed = datetime.fromisoformat(other["state"]["histories"][-1]["date"])
    assert datetime.fromisoformat(again["date"]) >= freed, states(done)
