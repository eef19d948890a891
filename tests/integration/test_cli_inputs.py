"""`conveyor run --input k=v` with a value that does not fit its input, and `conveyor validate` of a
flow whose input declaration is wrong: exit 2 with a message naming the input and the rule (the first
before anything is sent to Kafka), never a traceback."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.cli import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FLOW = """\
id: typed
namespace: cli.inputs
inputs:
  - {id: count, type: INT, min: 1, max: 5}
  - {id: when, type: DATE, required: false}
  - {id: opt.note, type: STRING, required: false}
tasks:
  - {id: hello, type: io.kestra.plugin.core.log.Log, message: "{{ inputs.count }}"}
"""


def test_a_bad_input_value_exits_2_naming_the_input_and_the_rule(tmp_path: Path, kafka_bootstrap: str) -> None:
    path = tmp_path / "typed.yaml"
    path.write_text(FLOW)
    # On the real broker, under a topic prefix of its own: the bad input is refused before anything is sent.
    prefix = f"t-cli-inputs-{uuid.uuid4().hex[:6]}."
    env = {**os.environ, "CONVEYOR_KAFKA_BOOTSTRAP": kafka_bootstrap, "CONVEYOR_KAFKA_TOPIC_PREFIX": prefix}
    done = run_cli(env, "run", str(path), "--input", "count=9", "--input", "when=soon", timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "input 'count': it must be less than `5`, but received `9`" in done.stderr
    assert "input 'when': expected a date YYYY-MM-DD (DATE), got `soon`" in done.stderr


def test_a_bad_input_declaration_exits_2_with_file_line_column_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        FLOW.replace("type: DATE,", "type: DATE, min: 2020-01-01,").replace("type: STRING,", "type: STRING, size: 3,")
    )
    done = run_cli(dict(os.environ), "validate", str(path), timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{path}:5:5: inputs[1]: property 'min' does not apply to DATE inputs" in done.stderr
    assert f"{path}:6:40: inputs[2].size: unknown property 'size'" in done.stderr


def test_a_run_that_does_not_end_in_time_says_the_timeout_given(tmp_path: Path, kafka_bootstrap: str) -> None:
    """No executor reads these topics: `--timeout 0.5` passes, and says so (it read `within 0s`)."""
    from conveyor.common.kafka.admin import ensure_topics
    from conveyor.common.settings import KafkaSettings

    path = tmp_path / "typed.yaml"
    path.write_text(FLOW)
    prefix = f"t-cli-timeout-{uuid.uuid4().hex[:6]}."
    ensure_topics(KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=prefix, partitions=1))
    env = {**os.environ, "CONVEYOR_KAFKA_BOOTSTRAP": kafka_bootstrap, "CONVEYOR_KAFKA_TOPIC_PREFIX": prefix}
    done = run_cli(env, "run", str(path), "--input", "count=2", "--timeout", "0.5", timeout=90)
    assert done.returncode == 1, done.stderr
    assert " did not finish within 0.5 s" in done.stderr
