"""An S3-compatible server on a loopback port, the real object store the S3 storage backend is tested against.

Adobe's S3Mock (`com.adobe.testing:s3mock`, its Spring Boot `exec` jar on Maven Central, Apache-2.0) is
fetched once into the cache like Kafka and Elasticsearch (`maven.py`), and runs on the machine's Java 17 with
no Docker. It speaks the S3 REST API (buckets, put/get/head, multipart uploads, ListObjectsV2,
DeleteObjects) over HTTP and keeps its objects in a folder of its own, which `stop()` removes.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.common.servers.maven import S3MOCK_VERSION, s3mock_jar
from conveyor.common.servers.process import RunningServer, ServerProcess, free_port, port_open

log = logging.getLogger(__name__)

HEAP = "-Xms32m -Xmx384m"


@dataclass
class S3Server(RunningServer):
    """A running S3Mock; `endpoint` is its `http://127.0.0.1:port`. It accepts any access key and secret."""

    endpoint: str
    pid: int
    data_dir: Path
    _process: ServerProcess = field(repr=False)
    _remove_data_dir: bool = field(default=True, repr=False)
    started_in: float = 0.0  # seconds from the launch until it answered S3 requests

    def wait_ready(self, timeout: float = 180.0) -> None:
        started = time.monotonic()
        deadline = started + timeout
        port = int(self.endpoint.rsplit(":", 1)[1])
        try:
            self._process.wait_until(lambda: port_open(port), deadline, "listening")
            self._process.wait_until(lambda: _answers(self.endpoint), deadline, "answering S3 requests")
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        log.info("S3Mock %s ready in %.1f s", S3MOCK_VERSION, self.started_in, extra={"endpoint": self.endpoint})


def start_s3(port: int | None = None, *, timeout: float = 180.0) -> S3Server:
    """Start S3Mock on a free loopback port and wait until it answers. Call from a thread that outlives it."""
    jar = s3mock_jar()
    run = Path(tempfile.mkdtemp(prefix="conveyor-s3mock-"))
    port = port or free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("JAVA_TOOL", "COM_ADOBE"))}
    argv = [
        "java",
        *HEAP.split(),
        "-jar",
        str(jar),
        "--server.address=127.0.0.1",
        "--server.port=0",  # its HTTPS connector: on any free port, unused
        f"--com.adobe.testing.s3mock.httpPort={port}",
        f"--com.adobe.testing.s3mock.store.root={run / 'objects'}",
        "--com.adobe.testing.s3mock.store.retainFilesOnExit=false",
        "--spring.main.banner-mode=off",
    ]
    process = ServerProcess(f"S3Mock on 127.0.0.1:{port}", argv, log_path=run / "console.log", cwd=run, env=env)
    server = S3Server(f"http://127.0.0.1:{port}", process.pid, run, process)
    server.wait_ready(timeout)
    return server


def _answers(endpoint: str) -> bool:
    """ListBuckets answers (S3Mock needs no signature for it)."""
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
