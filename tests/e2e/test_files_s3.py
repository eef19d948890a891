"""Files in flows on the S3-compatible storage: every process (CLI, executor, worker) uses one bucket of a
real S3 server (S3Mock on loopback, see tests/s3_server.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.files_flow import check_files_flow
from tests.s3_server import s3_endpoint

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# Filled before the stack starts (an autouse fixture runs before e2e_stack): the processes' storage settings.
ENV: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _s3_storage() -> Iterator[None]:
    with s3_endpoint() as s3:
        ENV.update(
            CONVEYOR_STORAGE_TYPE="s3",
            CONVEYOR_STORAGE_S3_ENDPOINT=s3.endpoint,
            CONVEYOR_STORAGE_S3_BUCKET=f"e2e-{uuid.uuid4().hex[:10]}",
            CONVEYOR_STORAGE_S3_ACCESS_KEY=s3.access_key,
            CONVEYOR_STORAGE_S3_SECRET_KEY=s3.secret_key,
        )
        yield


def test_the_files_flow_on_s3(e2e_stack: Stack, tmp_path: Path) -> None:
    check_files_flow(e2e_stack, tmp_path)
    assert e2e_stack.env["CONVEYOR_STORAGE_TYPE"] == "s3"
    assert not (Path(e2e_stack.env["CONVEYOR_HOME"]) / "storage").exists()  # nothing went to the local backend
