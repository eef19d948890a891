"""The `conveyor` command's dispatch: every command has a handler, and exit codes follow `cli.main`'s doc."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.cli.flags import GlobalFlags
from conveyor.cli.main import HANDLERS, _parser, main
from conveyor.common.errors import UsageError
from conveyor.common.settings import KafkaSettings

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


def test_a_bug_is_a_traceback_and_exit_1_not_an_input_error() -> None:
    """A ValueError that no user input caused (here: inside the flow loader) is not exit 2."""
    script = (
        "import sys\n"
        "from conveyor.cli.main import main\n"
        "from conveyor.common import loader\n"
        "def bug(path):\n"
        "    raise ValueError('a bug, not the user')\n"
        "loader.load_flow_file = bug\n"
        f"sys.exit(main(['validate', {str(EXAMPLES / 'hello.yaml')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "ValueError: a bug, not the user" in done.stderr


def test_main_lets_a_bug_through_and_turns_user_errors_into_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(args: argparse.Namespace, flags: GlobalFlags) -> int:
        raise ValueError("a bug")

    def mistake(args: argparse.Namespace, flags: GlobalFlags) -> int:
        raise UsageError("--flag expects a number")

    monkeypatch.setitem(HANDLERS, "validate", bug)
    with pytest.raises(ValueError, match="a bug"):
        main(["validate", "x.yaml"])
    monkeypatch.setitem(HANDLERS, "validate", mistake)
    assert main(["validate", "x.yaml"]) == 2


def test_bad_inputs_and_settings_are_exit_2_before_any_server_is_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES / "hello.yaml"), "--input", "no-equals-sign"]) == 2
    assert "--input expects NAME=VALUE" in capsys.readouterr().err
    assert main(["run", str(EXAMPLES / "hello.yaml"), "--inputs-json", "[1]"]) == 2
    assert "--inputs-json expects a JSON object" in capsys.readouterr().err
    assert main(["topics", "describe", "--partitions", "0"]) == 2
    assert "partitions" in capsys.readouterr().err


def test_global_flags_reach_the_settings_without_touching_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_KAFKA_BOOTSTRAP", "from-env:9092")
    monkeypatch.delenv("CONVEYOR_ELASTICSEARCH_INDEX_PREFIX", raising=False)
    before = dict(os.environ)
    seen: list[KafkaSettings] = []

    def record(action: str, kafka: KafkaSettings, output: str) -> int:
        seen.append(kafka)
        return 0

    monkeypatch.setattr("conveyor.cli.topics.topics", record)
    flags = ["--bootstrap", "from-flag:9092", "--topic-prefix", "t.", "--index-prefix", "ix"]
    assert main([*flags, "topics", "describe", "--partitions", "3"]) == 0
    (kafka,) = seen
    assert (kafka.bootstrap, kafka.topic_prefix, kafka.partitions) == ("from-flag:9092", "t.", 3)
    assert dict(os.environ) == before


def test_global_flags_win_over_variables_and_are_handed_to_child_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_ELASTICSEARCH_URL", "http://from-env:9200")
    monkeypatch.setenv("CONVEYOR_ELASTICSEARCH_INDEX_PREFIX", "env-prefix")
    flags = GlobalFlags(elasticsearch_url="http://from-flag:9200", kafka_topic_prefix="")
    es = flags.elasticsearch()
    assert (es.url, es.index_prefix) == ("http://from-flag:9200", "env-prefix")
    assert flags.kafka(bootstrap="given:1").bootstrap == "given:1"
    # an empty flag is no flag, as before
    assert flags.environ() == {"CONVEYOR_ELASTICSEARCH_URL": "http://from-flag:9200"}


@pytest.mark.parametrize("flag", ["--after-date", "--before-date"])
def test_a_date_that_is_not_iso_is_exit_2_naming_the_flag(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `taskruns --after-date yesterday` reached Elasticsearch and ended in its traceback."""
    with pytest.raises(SystemExit) as exited:
        main(["--elasticsearch", "http://127.0.0.1:9", "taskruns", flag, "yesterday"])
    assert exited.value.code == 2
    assert f"argument {flag}: expected an ISO-8601 date-time" in capsys.readouterr().err


def test_dates_read_as_the_api_reads_them() -> None:
    from datetime import UTC, datetime

    args = _parser().parse_args(["taskruns", "--after-date", "2026-11-01", "--before-date", "2026-11-02"])
    assert args.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert args.end == datetime(2026, 11, 2, 23, 59, 59, 999999, tzinfo=UTC)
    window = ["--after-date", "2026-11-01T10:00:00", "--before-date", "2026-11-01T12:00Z"]
    args = _parser().parse_args(["taskruns", *window])
    assert (args.start, args.end) == (datetime(2026, 11, 1, 10, tzinfo=UTC), datetime(2026, 11, 1, 12, tzinfo=UTC))


def test_a_kv_ttl_that_is_not_a_duration_is_exit_2() -> None:
    """Before: `kv set NS K V --ttl 1h` ended in parse_duration's ValueError, a traceback and exit 1."""
    from conveyor.cli.kv import _ttl

    with pytest.raises(UsageError, match=r"--ttl: '1h' is not a positive ISO-8601 duration"):
        _ttl("1h")


def test_validate_counts_one_task_in_the_singular(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "taskrun.yaml"), str(EXAMPLES / "hello.yaml")]) == 0
    err = capsys.readouterr().err
    assert "valid flow conveyor.examples.taskrun (1 task)\n" in err
    assert "valid flow conveyor.examples.hello (2 tasks)\n" in err


@pytest.mark.parametrize("command", [["taskruns"], ["executions"], ["logs", "some-execution"]])
def test_an_elasticsearch_that_does_not_answer_is_exit_3_in_one_line(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the client's ConnectionError, a traceback and exit 1."""
    from conveyor.common.servers.process import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--elasticsearch", url, *command]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"error: Elasticsearch at {url} (no auth): ") and "Traceback" not in err
