"""Processes of this machine by pid, read from signals and `/proc`: whether one is alive (a zombie is not)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """The process exists and has not exited: a zombie (a child of ours not reaped yet) is not alive, a
    process we may not signal (another user's) is."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not zombie(pid)


def zombie(pid: int) -> bool:
    return process_state(pid) == "Z"


def process_state(pid: int) -> str | None:
    """The state letter of `/proc/PID/stat` (R running, S sleeping, Z zombie…), None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # `PID (COMMAND) STATE …`: the command may hold spaces and parentheses, the state follows the last
            return stat.read().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return None
