"""Files in flows on the default local-directory storage (under the stack's home, `CONVEYOR_HOME`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.files_flow import check_files_flow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_a_file_input_read_by_commands_and_an_output_file_read_by_the_next_task(
    e2e_stack: Stack, tmp_path: Path
) -> None:
    check_files_flow(e2e_stack, tmp_path)
    assert (Path(e2e_stack.env["CONVEYOR_HOME"]) / "storage").is_dir()  # the default root: under the home
