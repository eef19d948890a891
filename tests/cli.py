"""The `conveyor` command run as users run it: a separate process, with the environment a test gives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 120.0, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`conveyor ARGS` to its end: exit code, stdout and stderr as text (never raises on a non-zero exit);
    `stdin`: what the command reads (a password), else nothing."""
    return subprocess.run(
        [sys.executable, "-m", "conveyor.cli.main", *args],
        input=stdin if stdin is not None else "",
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
