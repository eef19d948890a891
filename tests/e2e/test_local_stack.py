"""`conveyor up`, `status`, `down` as a user runs them: the whole local stack, its own servers included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli import ROOT, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update({"CONVEYOR_HOME": str(home), "CONVEYOR_KAFKA_PARTITIONS": "2", "COLUMNS": "200"})
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run_cli(env, *args, timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _wait_gone(pids: list[int], timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


def _stack_pids(state: dict[str, Any]) -> list[int]:
    return [state["pid"], state["kafkaPid"], state["elasticsearchPid"], *state["services"].values()]


@pytest.mark.skipif(
    bool(os.environ.get("CONVEYOR_KAFKA_BOOTSTRAP")) and not os.environ.get("CI"),
    reason="developers pointing at shared servers skip starting a second pair",
)
def test_up_detach_status_run_down(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    up = _cli(env, "up", "--detach", "--executors", "2")
    assert up.returncode == 0, up.stderr
    state = json.loads((tmp_path / "home" / "stack.json").read_text())
    try:
        status = _cli(env, "status", "--output", "json")
        report = json.loads(status.stdout)
        assert status.returncode == 0 and report["kafka"]["reachable"] and report["elasticsearch"]["reachable"]
        assert report["kafka"]["bootstrap"] == state["kafkaBootstrap"]
        assert all(s["alive"] for s in report["services"].values())
        assert {"executor", "executor-2"} <= set(report["services"])  # `--executors 2`
        assert "server" in report["services"] and report["server"]["url"] == state["serverUrl"]
        assert report["server"]["reachable"] and report["server"]["identity"]["name"] == "admin"
        # the admin credential `up` made: readable by its owner only, and used by the CLI for this stack
        credential = Path(state["adminCredentials"])
        assert credential.stat().st_mode & 0o777 == 0o600 and "adminCredentials" in state
        assert "admin-credentials.json" in up.stderr
        made = _cli(env, "tokens", "create", "e2e", "--role", "viewer@conveyor", "--output", "json")
        assert made.returncode == 0, made.stderr
        listed = _cli(env, "tokens", "list", "--output", "json")
        assert json.loads(made.stdout)["id"] in listed.stdout and json.loads(made.stdout)["token"] not in listed.stdout
        run = _cli(env, "run", str(ROOT / "examples" / "hello.yaml"), "--output", "json")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["state"]["current"] == "SUCCESS"
    finally:
        down = _cli(env, "down")
    assert down.returncode == 0
    assert _wait_gone(_stack_pids(state)) == []
    assert not (tmp_path / "home" / "stack.json").exists()


@pytest.mark.skipif(
    bool(os.environ.get("CONVEYOR_KAFKA_BOOTSTRAP")) and not os.environ.get("CI"),
    reason="developers pointing at shared servers skip starting a second pair",
)
def test_up_in_the_foreground_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    state_file = tmp_path / "home" / "stack.json"
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", "up"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 240
        while not state_file.exists() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        assert state_file.exists(), (tmp_path / "up.log").read_text()
        state = json.loads(state_file.read_text())
        up.send_signal(signal.SIGINT)
        assert up.wait(120) == 0
    finally:
        if up.poll() is None:
            up.kill()
    assert _wait_gone(_stack_pids(state)) == []
    assert not state_file.exists()
