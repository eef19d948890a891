"""The local stack's state file, `$CONVEYOR_HOME/stack.json`: where `conveyor up` runs its servers and services.

`conveyor up` writes it whole (through a temporary file) once the stack is ready and again when it restarts
a service, and removes it when it stops; every other command reads the servers' addresses from it. A file
whose `pid` is not alive is stale and reads as no stack at all.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from conveyor.common.procfs import alive
from conveyor.common.settings import conveyor_home


def state_file() -> Path:
    return conveyor_home() / "stack.json"


def read_state() -> dict[str, Any] | None:
    """The running local stack's state, None when no local stack is up."""
    try:
        data = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not alive(int(data.get("pid", 0))):
        return None
    return data


def write_state(state: dict[str, Any]) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def remove_state() -> None:
    with contextlib.suppress(FileNotFoundError):
        state_file().unlink()
