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


def java_home_at_least(major: int) -> Path:
    """A JDK of at least `major` (Keycloak needs 21): `java_home()` if it is one, else the newest under
    /usr/lib/jvm that is (a machine often has several, and the default one serves Kafka and Elasticsearch)."""
    candidates = [java_home()] if _has_java() else []
    jvms = Path("/usr/lib/jvm")
    if jvms.is_dir():
        candidates += sorted(jvms.iterdir(), key=_major, reverse=True)
    for home in candidates:
        if _major(home) >= major and (home / "bin" / "java").is_file():
            return home
    raise ServerError(f"no JDK {major}+ found (JAVA_HOME, the `java` on PATH, /usr/lib/jvm): install one")


def _has_java() -> bool:
    try:
        java_home()
    except ServerError:
        return False
    return True


def _major(home: Path) -> int:
    """The feature release of the JDK at `home`, from its `release` file; 0 when unknown."""
    try:
        lines = (home / "release").read_text(errors="replace").splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("JAVA_VERSION="):
            version = line.split("=", 1)[1].strip('"')
            head = version.split(".", 1)[0]
            return int(head) if head.isdigit() else 0
    return 0
