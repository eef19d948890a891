"""Keycloak on a loopback port, the real OIDC provider the tests log in through.

The distribution (`org.keycloak:keycloak-quarkus-dist`, a zip on Maven Central) is fetched and unpacked once
into the cache like Kafka and Elasticsearch (`maven.py`). Each start runs `kc.sh start-dev` from its own
folder: `bin/kc.sh`, `conf/` and the small `lib/` files copied there, the jars (`lib/lib`), `themes/` and
`providers/` linked to the cache, so two servers never write into the shared distribution. The database is
H2 in memory (`--db=dev-mem`): every start imports the realm file afresh (`--import-realm` reads
`data/import/`) and leaves nothing behind.

Dev mode "augments" the server (Quarkus' build step, about a minute) when `lib/quarkus` was not built for its
options. The first start saves its augmented `lib/quarkus` into the cache, so later starts skip that step.

The realm shipped beside this file (`keycloak-realm.json`) is the tests': realm `conveyor`, a confidential
client `conveyor` (PKCE S256, redirect URIs `http://127.0.0.1:*` and `http://localhost:*`), a `groups` claim
mapper (group names, without their path) on the ID token, and users with passwords, with and without groups.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.common.servers.java import java_home_at_least
from conveyor.common.servers.maven import KEYCLOAK_VERSION, cache_dir, keycloak_home, locked
from conveyor.common.servers.process import RunningServer, ServerProcess, free_port, port_open

log = logging.getLogger(__name__)

REALM_FILE = Path(__file__).resolve().parent / "keycloak-realm.json"
JAVA_MAJOR = 21  # Keycloak 26 runs on Java 21 or later
HEAP = "-Xms64m -Xmx512m"
AUGMENTED = f"keycloak-{KEYCLOAK_VERSION}-dev-quarkus"  # lib/quarkus as start-dev built it


@dataclass
class KeycloakServer(RunningServer):
    """A running Keycloak; `url` is its `http://host:port`, `issuer` the realm's OIDC issuer."""

    url: str
    realm: str
    pid: int
    data_dir: Path
    _process: ServerProcess = field(repr=False)
    _remove_data_dir: bool = field(default=True, repr=False)
    started_in: float = 0.0  # seconds from the launch until the realm's discovery document answered

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{self.realm}"

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Block until the realm's discovery document answers (the realm is imported by then)."""
        started = time.monotonic()
        deadline = started + timeout
        port = int(self.url.rsplit(":", 1)[1])
        try:
            self._process.wait_until(lambda: port_open(port), deadline, "listening")
            self._process.wait_until(lambda: _discovery_answers(self.issuer), deadline, "serving its realm")
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        _save_augmented(self.data_dir / "lib" / "quarkus")
        log.info("Keycloak ready in %.1f s", self.started_in, extra={"issuer": self.issuer})


def start_keycloak(realm_file: Path = REALM_FILE, port: int | None = None, *, timeout: float = 300.0) -> KeycloakServer:
    """Start Keycloak with `realm_file` imported and wait until its realm answers. `stop()` removes its folder.
    Call from a thread that outlives the server (see `process`)."""
    server = launch_keycloak(realm_file, port)
    server.wait_ready(timeout)
    return server


def launch_keycloak(realm_file: Path = REALM_FILE, port: int | None = None) -> KeycloakServer:
    """Start the Keycloak process without waiting for it; `wait_ready()` does that."""
    home = keycloak_home()
    realm = str(json.loads(realm_file.read_text())["realm"])
    run = Path(tempfile.mkdtemp(prefix="conveyor-keycloak-"))
    _lay_out(home, run)
    (run / "data" / "import").mkdir(parents=True)
    shutil.copyfile(realm_file, run / "data" / "import" / f"{realm}-realm.json")  # the name Keycloak requires
    port = port or free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KC_", "JAVA_"))}
    env |= {"JAVA_HOME": str(java_home_at_least(JAVA_MAJOR)), "JAVA_OPTS_KC_HEAP": HEAP}
    argv = [
        str(run / "bin" / "kc.sh"),
        "start-dev",
        "--http-host=127.0.0.1",
        f"--http-port={port}",
        "--db=dev-mem",
        "--import-realm",
    ]
    process = ServerProcess(f"Keycloak on 127.0.0.1:{port}", argv, log_path=run / "console.log", cwd=run, env=env)
    return KeycloakServer(f"http://127.0.0.1:{port}", realm, process.pid, run, process)


def realm_definition(realm_file: Path = REALM_FILE) -> dict[str, Any]:
    """The realm file as data: its users and passwords, its clients and their secrets (for the tests)."""
    data: dict[str, Any] = json.loads(realm_file.read_text())
    return data


def _lay_out(home: Path, run: Path) -> None:
    """A Keycloak home of its own in `run`: kc.sh computes the home from its own location."""
    (run / "bin").mkdir()
    shutil.copy2(home / "bin" / "kc.sh", run / "bin" / "kc.sh")
    shutil.copytree(home / "conf", run / "conf")
    (run / "lib").mkdir()
    (run / "lib" / "lib").symlink_to(home / "lib" / "lib")
    shutil.copytree(home / "lib" / "app", run / "lib" / "app")
    shutil.copy2(home / "lib" / "quarkus-run.jar", run / "lib" / "quarkus-run.jar")
    augmented = cache_dir() / AUGMENTED
    shutil.copytree(augmented if augmented.is_dir() else home / "lib" / "quarkus", run / "lib" / "quarkus")
    for shared in ("themes", "providers"):
        (run / shared).symlink_to(home / shared)


def _save_augmented(quarkus: Path) -> None:
    """Keep the first start's augmented lib/quarkus for the next ones (renamed into place, under the lock)."""
    target = cache_dir() / AUGMENTED
    if target.is_dir():
        return
    with locked(cache_dir() / ".fetch.lock"):
        if target.is_dir():
            return
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{AUGMENTED}-", dir=cache_dir()))
        try:
            shutil.copytree(quarkus, work / "quarkus")
            (work / "quarkus").rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _discovery_answers(issuer: str) -> bool:
    try:
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
