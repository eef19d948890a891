"""A Pause's FILE `onResume` input on the real servers (issue 16): the file given to `conveyor resume ID --input
orders=@orders.csv`, or as a file part of a `multipart/form-data` `POST /api/v1/executions/{id}/resume`, is stored
under the execution's prefix; the Pause's output `onResume.orders` is its URI, which the next task reads through
Commands' `inputFiles` and `read()`. What cannot be (a missing required file, a file for an input that is not
FILE, an unreadable path, a body past the server's limit, a caller without the runner role) is refused naming
the input, and stores nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.api.settings import ServerSettings
from conveyor.common.storage import default_storage
from tests.apiserver import ADMIN_AUTH, PASSWORD, auth_with, serving, user
from tests.cli import ROOT
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

NS = "conveyor.resume"
FLOW = """\
id: {name}
namespace: conveyor.resume
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - {{id: orders, type: FILE}}
      - {{id: note, type: STRING, defaults: none}}
  - id: total
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      orders.csv: "{{{{ outputs.wait.onResume.orders }}}}"
    outputFiles: [sum.txt]
    commands:
      - "awk -F, 'NR > 1 {{ sum += $2 }} END {{ print sum }}' orders.csv > sum.txt"
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: >-
      {{{{ read(outputs.total.outputFiles['sum.txt']) | trim }}}}
      {{{{ read(outputs.wait.onResume.orders) | length }}}} {{{{ outputs.wait.onResume.note }}}}
"""
CSV = b"id,amount\n1,10\n2,32\n"


class Paused:
    def __init__(self, stack: Stack, folder: Path, name: str) -> None:
        self.stack = stack
        path = folder / f"{name}.yaml"
        path.write_text(FLOW.format(name=name))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", "run", str(path), "--output", "json", "--timeout", "300"],
            env=stack.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def paused() -> str | None:
            done = stack.cli("executions", "--flow", name, "--output", "json")
            rows = [e for e in json.loads(done.stdout or "[]") if e["state"]["current"] == "PAUSED"]
            return str(rows[0]["id"]) if rows else None

        found = stack.poll(paused, timeout=300)
        assert found, f"no PAUSED execution of {name}\n{stack.tail()}"
        self.id: str = found
        self.inputs = f"kestra:///conveyor/resume/{name}/executions/{found}/inputs/"

    def ended(self) -> dict[str, Any]:
        out, err = self.proc.communicate(timeout=400)
        assert self.proc.returncode in (0, 1), f"{err}\n{self.stack.tail()}"
        return dict(json.loads(out))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def paused(e2e_stack: Stack, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Paused]:
    one = Paused(e2e_stack, tmp_path, "files-" + request.node.name.split("_")[1])
    yield one
    one.close()


def run(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    (found,) = [r for r in execution["taskRunList"] if r["taskId"] == task_id]
    return dict(found)


def stored(stack: Stack, prefix: str) -> list[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVEYOR_HOME", stack.env["CONVEYOR_HOME"])
        default_storage.cache_clear()
        try:
            return [f.uri for f in default_storage().files(prefix)]
        finally:
            default_storage.cache_clear()


def test_cli_resume_uploads_the_file_the_next_tasks_read(paused: Paused, tmp_path: Path) -> None:
    stack = paused.stack
    orders = tmp_path / "orders.csv"
    orders.write_bytes(CSV)
    missing = stack.cli("resume", paused.id)
    assert missing.returncode == 2 and "inputs.orders" in missing.stderr, missing.stderr
    gone = stack.cli("resume", paused.id, "--input", f"orders=@{tmp_path / 'gone.csv'}")
    assert gone.returncode == 2 and "inputs.orders" in gone.stderr and "cannot read" in gone.stderr, gone.stderr
    assert stored(stack, paused.inputs) == []  # nothing stored by a refused resume
    # `@...` for a STRING input stays text, as `conveyor run` keeps it
    done = stack.cli("resume", paused.id, "--input", f"orders=@{orders}", "--input", "note=@home")
    assert done.returncode == 0, done.stderr
    ended = paused.ended()
    assert ended["state"]["current"] == "SUCCESS", json.dumps(ended)[:2000] + stack.tail()
    uri = paused.inputs + "orders/orders.csv"
    assert run(ended, "wait")["outputs"] == {"onResume": {"orders": uri, "note": "@home"}}
    assert run(ended, "report")["outputs"]["value"] == f"42 {len(CSV.decode())} @home"
    assert stack.cli("files", "get", uri).stdout == CSV.decode()


def test_api_multipart_resume_stores_the_file_the_next_tasks_read(paused: Paused) -> None:
    stack = paused.stack
    path = f"/api/v1/executions/{paused.id}/resume"
    users = {"viewer": user(f"viewer@{NS}")}
    small = ServerSettings(max_request_bytes=64 * 1024)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVEYOR_HOME", stack.env["CONVEYOR_HOME"])  # the stack's storage, as its worker's
        default_storage.cache_clear()
        with (
            serving(stack.kafka, stack.es, auth=auth_with(users), settings=small) as base,
            httpx.Client(base_url=base, auth=ADMIN_AUTH, timeout=60) as http,
        ):
            viewer = http.post(path, files={"orders": ("orders.csv", CSV)}, auth=("viewer", PASSWORD))
            assert viewer.status_code == 403, viewer.text
            wrong = http.post(path, files={"orders": ("orders.csv", CSV), "note": ("note.txt", b"hi")})
            assert wrong.status_code == 422, wrong.text
            assert wrong.json()["errors"][0]["parameter"] == "inputs.note", wrong.text
            assert "not FILE" in wrong.json()["errors"][0]["message"], wrong.text
            unknown = http.post(path, data={"note": "hi"}, files={"other": ("x.txt", b"x")})
            assert unknown.status_code == 422, unknown.text
            assert unknown.json()["errors"][0]["parameter"] == "inputs.other", unknown.text
            required = http.post(path, files={"note": (None, b"hi")})  # a form without the file
            assert required.status_code == 422, required.text
            assert required.json()["errors"][0]["parameter"] == "inputs.orders", required.text
            large = http.post(path, files={"orders": ("orders.csv", b"x" * 100_000)})
            assert large.status_code == 413, large.text
            assert stored(stack, paused.inputs) == []  # no refused resume stored a file
            ok = http.post(path, files={"orders": ("orders.csv", CSV)}, data={"note": "api"})
            assert ok.status_code == 202 and ok.json()["requested"] == "resume", ok.text
        default_storage.cache_clear()
    ended = paused.ended()
    assert ended["state"]["current"] == "SUCCESS", json.dumps(ended)[:2000] + stack.tail()
    uri = paused.inputs + "orders/orders.csv"
    assert run(ended, "wait")["outputs"] == {"onResume": {"orders": uri, "note": "api"}}
    assert run(ended, "report")["outputs"]["value"] == f"42 {len(CSV.decode())} api"
