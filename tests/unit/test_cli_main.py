"""The `conveyor` command's dispatch: every command has a handler, and exit codes follow `cli.main`'s doc."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from conveyor.cli.main import HANDLERS, _parser, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_every_command_has_a_handler() -> None:
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == set(HANDLERS)


def test_validate_exits_0_for_valid_flows_and_2_for_an_invalid_one(tmp_path: Path) -> None:
    assert main(["validate", str(EXAMPLES / "hello.yaml"), str(EXAMPLES / "retry.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nnamespace: t\ntasks:\n  - {id: x, type: io.kestra.plugin.core.debug.Nope}\n")
    assert main(["validate", str(bad)]) == 2


def test_an_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["nope"])
    assert exited.value.code == 2
