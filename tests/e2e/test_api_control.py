"""Kill and restart through the HTTP API (`POST /api/v1/executions/{id}/kill|restart`) on the real servers.

The flows are deployed and their executions started through the API at once when the module starts; the
e2e stack's executor, worker and indexer processes run them; the server's app runs in a thread of the test
process, and every state is read back through it (`GET /api/v1/executions/{id}`, from Elasticsearch).
The CLI's side of the same requests: tests/e2e/test_retries_kill_restart.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apiserver import ADMIN_AUTH, serving
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

NS = "conveyor.api.control"


def flows(marker: Path) -> dict[str, str]:
    return {
        "nap": "  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT60S}\n",
        "check": f"""\
  - {{id: before, type: io.kestra.plugin.core.log.Log, message: first}}
  - id: check
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ['test -f "{marker}"']
  - {{id: after, type: io.kestra.plugin.core.log.Log, message: done}}
""",
        "quick": "  - {id: hello, type: io.kestra.plugin.core.debug.Return, format: hi}\n",
    }


@dataclass
class Started:
    stack: Stack
    http: httpx.Client
    marker: Path
    ids: dict[str, str]

    def until(self, name: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The execution of flow `name` as the API answers it, once `check` holds."""

        def found() -> dict[str, Any] | None:
            answer = self.http.get(f"/api/v1/executions/{self.ids[name]}")
            return answer.json() if answer.status_code == 200 and check(answer.json()) else None

        execution = self.stack.poll(found, timeout=120)
        assert execution, f"{name}: not as expected\n{self.stack.tail()}"
        return dict(execution)

    def ended(self, name: str, state: str, runs: list[str]) -> dict[str, Any]:
        """Once the execution ended in `state` and its task runs, in start order, are in the states `runs`
        (they are other documents, in another index: the API may see the execution's end first)."""
        return self.until(name, lambda e: current(e) == state and [current(r) for r in e["taskRunList"]] == runs)

    def request(self, action: str, name: str) -> httpx.Response:
        return self.http.post(f"/api/v1/executions/{self.ids[name]}/{action}")


@pytest.fixture(scope="module")
def started(e2e_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    marker = tmp_path_factory.mktemp("api-control") / "ready"
    with (
        serving(e2e_stack.kafka, e2e_stack.es) as base,
        httpx.Client(base_url=base, timeout=60, auth=ADMIN_AUTH) as http,
    ):
        ids = {}
        for name, tasks in flows(marker).items():
            source = f"id: {name}\nnamespace: {NS}\ntasks:\n{tasks}"
            deployed = http.post("/api/v1/flows", content=source, headers={"content-type": "application/x-yaml"})
            assert deployed.status_code == 201, deployed.text
            answer = http.post(f"/api/v1/executions/{NS}/{name}")
            assert answer.status_code == 200, answer.text
            ids[name] = answer.json()["id"]
        yield Started(e2e_stack, http, marker, ids)


def current(thing: dict[str, Any]) -> str:
    return str(thing["state"]["current"])


def states(thing: dict[str, Any]) -> list[str]:
    return [h["state"] for h in thing["state"]["histories"]]


def when(thing: dict[str, Any], state: str) -> datetime:
    return datetime.fromisoformat([h for h in thing["state"]["histories"] if h["state"] == state][-1]["date"])


def lasted(thing: dict[str, Any]) -> timedelta:
    """From its first recorded state to its last."""
    histories = thing["state"]["histories"]
    return datetime.fromisoformat(histories[-1]["date"]) - datetime.fromisoformat(histories[0]["date"])


def the_run(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    run: dict[str, Any]
    (run,) = [r for r in execution["taskRunList"] if r["taskId"] == task_id]
    return run


def sleeping(execution: dict[str, Any]) -> bool:
    runs = execution.get("taskRunList") or [{}]
    attempts = runs[0].get("attempts") or [{}]
    return bool(attempts[-1].get("state", {}).get("current") == "RUNNING")


def test_kill_through_the_api_stops_a_running_sleep_and_ends_killed(started: Started) -> None:
    running = started.until("nap", sleeping)
    refused = started.request("restart", "nap")
    assert refused.status_code == 409, refused.text
    assert f"execution {running['id']} is RUNNING (it has not ended)" in refused.json()["message"]

    answer = started.request("kill", "nap")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body == {
        "executionId": running["id"],
        "namespace": NS,
        "flowId": "nap",
        "requested": "kill",
        "state": "RUNNING",
        "revision": body["revision"],
        "replayId": None,  # set only by a replay
    }
    assert body["revision"] >= running["revision"]

    killed = started.ended("nap", "KILLED", ["KILLED"])
    assert states(killed)[-2:] == ["KILLING", "KILLED"]
    run = the_run(killed, "nap")
    (attempt,) = run["attempts"]
    assert current(attempt) == "KILLED" and attempt["workerId"]
    # the worker stopped the Sleep, within the executor's 20 s grace period and before its 60 s were over
    assert when(killed, "KILLED") - when(killed, "KILLING") < timedelta(seconds=10)
    assert lasted(attempt) < timedelta(seconds=60)

    again = started.request("kill", "nap")
    assert again.status_code == 409, again.text
    assert again.json()["message"] == f"execution {running['id']} has already ended KILLED: there is nothing to kill"


def test_restart_through_the_api_runs_a_failed_execution_again(started: Started) -> None:
    failed = started.ended("check", "FAILED", ["SUCCESS", "FAILED"])
    started.marker.touch()

    answer = started.request("restart", "check")
    assert answer.status_code == 202, answer.text
    assert (answer.json()["requested"], answer.json()["state"]) == ("restart", "FAILED")

    done = started.ended("check", "SUCCESS", ["SUCCESS"] * 3)
    assert states(done)[-4:] == ["FAILED", "RESTARTED", "RUNNING", "SUCCESS"]
    assert done["revision"] > failed["revision"]
    assert the_run(done, "before") == the_run(failed, "before")  # kept as it was
    check = the_run(done, "check")
    assert [current(a) for a in check["attempts"]] == ["FAILED", "SUCCESS"]
    assert check["attempts"][0] == the_run(failed, "check")["attempts"][0]


def test_an_execution_that_ended_well_is_neither_killed_nor_restarted(started: Started) -> None:
    quick = started.ended("quick", "SUCCESS", ["SUCCESS"])
    killed = started.request("kill", "quick")
    assert killed.status_code == 409, killed.text
    assert killed.json() == {
        "message": f"execution {quick['id']} has already ended SUCCESS: there is nothing to kill",
        "errors": [],
    }
    restarted = started.request("restart", "quick")
    assert restarted.status_code == 409, restarted.text
    assert restarted.json()["message"] == (
        f"execution {quick['id']} is SUCCESS (it did not fail): only a FAILED or KILLED execution can be restarted"
    )
    # a flow can still be started: the kill and restart routes do not shadow `POST /executions/{ns}/{flowId}`
    assert started.http.post(f"/api/v1/executions/{NS}/quick").status_code == 200
