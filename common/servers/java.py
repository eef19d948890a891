"""Finding the machine's Java, which runs both servers (and Maven)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conveyor.common.servers.errors import ServerError


def java_home() -> Path:
    """$JAVA_HOME if set, else the installation behind the `java` on PATH."""
    configured = os.environ.get("JAVA_HOME")
    if configured and (Path(configured) / "bin" / "java").is_file():
        return Path(configured)
    found = shutil.which("java")
    if found is None:
        raise ServerError("no `java` on PATH and no JAVA_HOME: install a JDK 17+ (apt-get install default-jdk)")
    # /usr/bin/java -> /etc/alternatives/java -> /usr/lib/jvm/<jdk>/bin/java
    return Path(found).resolve().parent.parent


def java() -> str:
    return str(java_home() / "bin" / "java")
