"""The S3-compatible server the storage tests use, chosen in one place (like `tests/servers.py`):

1. an existing one: `CONVEYOR_TEST_S3_ENDPOINT` (any access key and secret unless
   `CONVEYOR_TEST_S3_ACCESS_KEY`/`CONVEYOR_TEST_S3_SECRET_KEY` say otherwise);
2. else Adobe's S3Mock from Maven Central, started on a free loopback port by `conveyor.common.servers.s3mock`,
   once per test session. Without Java or Maven the tests that need it are skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from conveyor.common.servers.s3mock import start_s3


@dataclass(frozen=True)
class S3Endpoint:
    endpoint: str
    access_key: str
    secret_key: str


@contextmanager
def s3_endpoint() -> Iterator[S3Endpoint]:
    """For a session fixture: `with s3_endpoint() as s3: yield s3`."""
    access = os.environ.get("CONVEYOR_TEST_S3_ACCESS_KEY", "test-access-key")
    secret = os.environ.get("CONVEYOR_TEST_S3_SECRET_KEY", "test-secret-key")
    if endpoint := os.environ.get("CONVEYOR_TEST_S3_ENDPOINT"):
        yield S3Endpoint(endpoint, access, secret)
        return
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip("the S3 tests need Java 17+ and Maven to fetch and run S3Mock (or CONVEYOR_TEST_S3_ENDPOINT)")
    with start_s3() as server:
        yield S3Endpoint(server.endpoint, access, secret)
