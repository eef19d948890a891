"""`conveyor up --executors N`: the supervised services it names, and a count below 1 refused as a usage error."""

from __future__ import annotations

import pytest

from conveyor.cli.main import _parser, main
from conveyor.cli.stack import service_names


def test_one_executor_keeps_its_name_and_more_are_numbered_from_two() -> None:
    assert service_names(2) == ["executor", "scheduler", "indexer", "server", "worker-1", "worker-2"]
    names = service_names(1, executors=3)
    assert [name for name in names if name.startswith("executor")] == ["executor", "executor-2", "executor-3"]
    assert len(set(names)) == len(names)


def test_executors_defaults_to_one_and_reads_a_count() -> None:
    assert _parser().parse_args(["up"]).executors == 1
    assert _parser().parse_args(["up", "--executors", "3", "--cluster"]).executors == 3


@pytest.mark.parametrize(("value", "reason"), [("0", "expected 1 or more, got 0"), ("two", "expected a whole number")])
def test_a_bad_executor_count_is_exit_2_naming_the_option(
    value: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", "--executors", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--executors" in err and reason in err
