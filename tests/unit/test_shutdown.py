"""Signals stop a service: a first SIGTERM or SIGINT asks for a drain and a second exits at once, while
SIGHUP (the parent-death signal, sent again for each thread of the dead parent) only ever asks for a drain."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

CHILD = """
import os, signal, sys
from conveyor.common.shutdown import stop_on_signals
stop = stop_on_signals()
for _ in range(3):
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
print("draining" if stop.is_set() else "running", flush=True)
"""


def _signalled(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, name], capture_output=True, text=True, timeout=60)


def test_repeated_sighup_stops_once_and_never_exits_before_the_drain() -> None:
    done = _signalled("SIGHUP")

    assert (done.returncode, done.stdout) == (0, "draining\n"), done.stderr


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_second_sigterm_or_sigint_exits_at_once(name: str) -> None:
    done = _signalled(name)

    assert done.returncode == 128 + getattr(signal, name), done.stderr
    assert done.stdout == ""
