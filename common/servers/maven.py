"""Fetching the servers from Maven Central with the machine's `mvn`, into a cache folder.

Maven's own repository (~/.m2) caches the downloads; the cache folder holds what the servers run
from: `kafka-<version>-<pom hash>/libs/*.jar` and the unpacked `elasticsearch-<version>/`. Each is
built in a temporary folder next to it and renamed into place, so a fetch killed halfway leaves
nothing that looks finished, and a file lock keeps two processes (pytest-xdist workers, a test run
and `conveyor up`) from fetching at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from conveyor.common.servers.errors import FetchError

log = logging.getLogger(__name__)

KAFKA_VERSION = "3.9.1"  # keep in step with kafka-pom.xml beside this file
ELASTICSEARCH_VERSION = "8.17.4"
ELASTICSEARCH_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ELASTICSEARCH_VERSION}:zip"
KEYCLOAK_VERSION = "26.7.3"
KEYCLOAK_ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:zip"
S3MOCK_VERSION = "4.11.0"
S3MOCK_ARTIFACT = f"com.adobe.testing:s3mock:{S3MOCK_VERSION}:jar:exec"
# Pinned so the outcome does not depend on the default plugin version of the machine's Maven.
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_COMPLETE = ".complete"
_KAFKA_POM = Path(__file__).resolve().parent / "kafka-pom.xml"


def cache_dir() -> Path:
    """$CONVEYOR_CACHE_DIR, else $XDG_CACHE_HOME/conveyor, else ~/.cache/conveyor."""
    if configured := os.environ.get("CONVEYOR_CACHE_DIR"):
        return Path(configured)
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg) / "conveyor"
    return Path.home() / ".cache" / "conveyor"


def kafka_home() -> Path:
    """The folder whose `libs/` holds Kafka's jars, fetched on first use."""
    if not _KAFKA_POM.is_file():
        raise FetchError(f"Kafka's pom is missing: {_KAFKA_POM}")
    pom_hash = hashlib.sha256(_KAFKA_POM.read_bytes()).hexdigest()[:8]
    return _cached(f"kafka-{KAFKA_VERSION}-{pom_hash}", _fetch_kafka)


def elasticsearch_home() -> Path:
    """The unpacked Elasticsearch distribution (ES_HOME), fetched on first use."""
    return _cached(f"elasticsearch-{ELASTICSEARCH_VERSION}", _fetch_elasticsearch)


def keycloak_home() -> Path:
    """The unpacked Keycloak distribution (the OIDC provider of the tests), fetched on first use."""
    return _cached(f"keycloak-{KEYCLOAK_VERSION}", _fetch_keycloak)


def s3mock_jar() -> Path:
    """S3Mock's executable jar (the S3-compatible server of the storage tests), fetched on first use."""
    return _cached(f"s3mock-{S3MOCK_VERSION}", _fetch_s3mock) / f"s3mock-{S3MOCK_VERSION}-exec.jar"


def ensure_fetched() -> None:
    """Fetch and unpack both servers unless the cache already has them."""
    kafka_home()
    elasticsearch_home()


def _cached(name: str, fetch: Callable[[Path], None]) -> Path:
    target = cache_dir() / name
    if (target / _COMPLETE).exists():
        return target
    # One lock for every fetch: Maven 3.8 does not guard its local repository against two
    # processes downloading the same plugin at once.
    with locked(cache_dir() / ".fetch.lock"):
        if (target / _COMPLETE).exists():  # another process fetched it while we waited
            return target
        for stale in cache_dir().glob(f".tmp-{name}-*"):  # left by a fetch that was killed
            shutil.rmtree(stale, ignore_errors=True)
        started = time.monotonic()
        log.info("fetching %s from Maven Central (first use only)", name)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=cache_dir()))
        try:
            fetch(work)
            (work / _COMPLETE).touch()
            work.chmod(0o755)  # mkdtemp's 0700 would hide it from the Elasticsearch user
            if target.exists():
                shutil.rmtree(target)
            work.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log.info("fetched %s in %.1f s", name, time.monotonic() - started, extra={"path": str(target)})
    return target


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_kafka(work: Path) -> None:
    _mvn(
        "-f",
        str(_KAFKA_POM),
        f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={work / 'libs'}",
        cwd=work,
    )


def _fetch_elasticsearch(work: Path) -> None:
    _fetch_zip(work, ELASTICSEARCH_ARTIFACT, "Elasticsearch")


def _fetch_keycloak(work: Path) -> None:
    _fetch_zip(work, KEYCLOAK_ARTIFACT, "Keycloak")


def _fetch_s3mock(work: Path) -> None:
    _mvn(f"{_DEPENDENCY_PLUGIN}:copy", f"-Dartifact={S3MOCK_ARTIFACT}", f"-DoutputDirectory={work}", cwd=work)


def _fetch_zip(work: Path, artifact: str, what: str) -> None:
    download = work / "download"
    _mvn(
        f"{_DEPENDENCY_PLUGIN}:copy",
        f"-Dartifact={artifact}",
        f"-DoutputDirectory={download}",
        cwd=work,
    )
    archives = list(download.glob("*.zip"))
    if len(archives) != 1:
        raise FetchError(f"expected one {what} zip in {download}, found {archives}")
    _unzip(archives[0], work)
    shutil.rmtree(download)
    # The zip holds one top folder (elasticsearch-<version>/, keycloak-<version>/); lift its content into `work`.
    (top,) = [path for path in work.iterdir() if path.is_dir()]
    for entry in top.iterdir():
        entry.rename(work / entry.name)
    top.rmdir()


def _unzip(archive: Path, into: Path) -> None:
    """Unzip keeping the Unix modes (zipfile drops them), everything readable by every user."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, into))
            mode = (info.external_attr >> 16) & 0o777
            if info.is_dir():
                path.chmod(0o755)
            else:
                path.chmod((mode or 0o644) | 0o444)


def _mvn(*args: str, cwd: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError("no `mvn` on PATH: install Maven (apt-get install maven) to fetch Kafka and Elasticsearch")
    argv = [mvn, "-q", "-B", "-Dstyle.color=never", *args]
    result = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise FetchError(f"{' '.join(argv)} failed with code {result.returncode}:\n{output}")
