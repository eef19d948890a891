"""Files for a Pause's FILE `onResume` inputs (`common.resume_files`): where each goes (the execution's own
prefix, as a flow's FILE inputs), what is refused naming the input, the CLI's `@path` for another type kept as
text, and the typed values the resume then carries (the URI), with the local-directory storage."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.cli.files import resume_files as cli_resume_files
from conveyor.common import resume_files, steering
from conveyor.common.input_types import InputType
from conveyor.common.loader import flow_to_dict
from conveyor.common.resume_files import ResumeFile
from conveyor.common.steering import ResumeInputError
from conveyor.common.storage import default_storage
from conveyor.common.storage.uri import ExecutionScope
from tests.unit.sim import start

FLOW = """
id: approve
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - {id: orders, type: FILE}
      - {id: note, type: STRING, defaults: none}
  - {id: after, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.wait.onResume.orders }}"}
"""
SCOPE = ExecutionScope("company.team", "approve", "ex1")
PREFIX = "kestra:///company/team/approve/executions/ex1/inputs/"
DECLARED = {"orders": InputType.FILE, "note": InputType.STRING}


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CONVEYOR_STORAGE_TYPE", "local")
    monkeypatch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(tmp_path / "storage"))
    default_storage.cache_clear()
    yield tmp_path / "storage"
    default_storage.cache_clear()


def test_the_paused_pauses_declare_the_types_of_their_onresume_inputs() -> None:
    sim = start(FLOW)
    sim.until_done()
    assert steering.on_resume_types(flow_to_dict(sim.flow), sim.runs("wait")) == DECLARED


def test_a_file_goes_under_the_execution_s_inputs_and_is_stored_only_when_told(storage: Path) -> None:
    placed = resume_files.place(DECLARED, {"orders": ResumeFile("orders.csv", io.BytesIO(b"id\n1\n"))}, SCOPE)
    uri = PREFIX + "orders/orders.csv"
    assert placed.values == {"orders": uri}
    assert not storage.exists()  # placed, not stored yet
    resume_files.store(placed)
    with default_storage().open(uri) as stored:
        assert stored.read() == b"id\n1\n"


def test_the_typed_resume_carries_the_uri_and_a_missing_required_file_is_refused_naming_it() -> None:
    sim = start(FLOW)
    sim.until_done()
    flow, paused = flow_to_dict(sim.flow), sim.runs("wait")
    uri = PREFIX + "orders/orders.csv"
    assert steering.resume_inputs(flow, paused, {"orders": uri}) == {"wait": {"orders": uri, "note": "none"}}
    with pytest.raises(ResumeInputError) as missing:
        steering.resume_inputs(flow, paused, {"note": "hi"})
    assert missing.value.field == "inputs.orders"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("note", "onResume input 'note': a file was given, but it is a STRING input, not FILE"),
        ("nope", "unknown onResume input 'nope' (declared: note, orders)"),
    ],
)
def test_a_file_for_an_input_that_is_not_a_file_is_refused_naming_it(name: str, message: str) -> None:
    with pytest.raises(ResumeInputError) as refused:
        resume_files.place(DECLARED, {name: ResumeFile("a.txt", io.BytesIO(b"x"))}, SCOPE)
    assert refused.value.field == f"inputs.{name}"
    assert str(refused.value) == message


def test_the_cli_s_at_path_is_a_file_for_a_file_input_and_text_for_another(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_bytes(b"id\n")
    given = cli_resume_files({"orders": f"@{orders}", "note": "@home", "plain": "x"})
    assert given["inputs"] == {"plain": "x"}
    placed = resume_files.place(DECLARED, given["files"], SCOPE)
    assert placed.values == {"orders": PREFIX + "orders/orders.csv", "note": "@home"}
    with pytest.raises(ResumeInputError) as unreadable:
        resume_files.place(DECLARED, cli_resume_files({"orders": f"@{tmp_path / 'gone.csv'}"})["files"], SCOPE)
    assert unreadable.value.field == "inputs.orders" and "cannot read" in str(unreadable.value)
