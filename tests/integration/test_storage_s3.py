"""The S3 backend against a real S3-compatible server (S3Mock on loopback, see tests/s3_server.py): the same
operations as the local backend, a multipart upload, retention, and `read()` through the process's storage."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from conveyor.common.clock import utcnow
from conveyor.common.errors import RenderError
from conveyor.common.render import render_value
from conveyor.common.storage import FileNotFound, StorageSettings, default_storage, open_storage
from conveyor.common.storage.retention import purge
from conveyor.common.storage.s3 import S3Storage
from conveyor.common.storage.uri import ExecutionScope
from tests.s3_server import S3Endpoint, s3_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Endpoint]:
    with s3_endpoint() as endpoint:
        yield endpoint


def settings_for(s3: S3Endpoint, bucket: str) -> StorageSettings:
    return StorageSettings(
        type="s3",
        s3_endpoint=s3.endpoint,
        s3_bucket=bucket,
        s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key,
    )


@pytest.fixture
def storage(s3: S3Endpoint) -> S3Storage:
    opened = open_storage(settings_for(s3, f"t-{uuid.uuid4().hex[:12]}"))  # a fresh bucket, created on first put
    assert isinstance(opened, S3Storage)
    return opened


def test_put_open_list_delete_on_a_real_s3_server(storage: S3Storage) -> None:
    scope = ExecutionScope("company.team", "etl", uuid.uuid4().hex)
    uri = scope.task_file("extract", "tr1", "rows.csv")
    assert storage.put(uri, io.BytesIO(b"a,b\n1,2\n")) == 8
    with storage.open(uri) as stream:
        assert stream.read() == b"a,b\n1,2\n"
    assert storage.size(uri) == 8
    assert [(f.uri, f.size) for f in storage.files(scope.prefix)] == [(uri, 8)]
    assert storage.delete(scope.prefix) == 1
    with pytest.raises(FileNotFound):
        storage.open(uri)
    with pytest.raises(FileNotFound):
        storage.size(uri)


def test_a_large_file_goes_up_in_parts_and_comes_back_whole(storage: S3Storage) -> None:
    uri = ExecutionScope("n", "f", "big").task_file("t", "r", "big.bin")
    data = bytes(range(256)) * (40 * 1024)  # 10 MiB: past boto3's 8 MiB multipart threshold
    assert storage.put(uri, io.BytesIO(data)) == len(data)
    with storage.open(uri) as stream:
        assert stream.read() == data


def test_purge_deletes_the_files_of_executions_past_the_retention(storage: S3Storage) -> None:
    kept, gone = ExecutionScope("n", "f", "kept"), ExecutionScope("n", "f", "gone")
    storage.put(kept.task_file("t", "r", "x"), io.BytesIO(b"x"))
    storage.put(gone.input_file("i", "y"), io.BytesIO(b"y"))
    assert purge(storage, utcnow() - timedelta(days=30)) == {}  # both are new
    assert set(purge(storage, utcnow() + timedelta(seconds=60))) == {kept.prefix, gone.prefix}
    assert list(storage.files("kestra:///")) == []


def test_read_reads_through_the_configured_s3_storage(s3: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    for name, value in {
        "TYPE": "s3",
        "S3_ENDPOINT": s3.endpoint,
        "S3_BUCKET": bucket,
        "S3_ACCESS_KEY": s3.access_key,
        "S3_SECRET_KEY": s3.secret_key,
        "READ_LIMIT": "16",
    }.items():
        monkeypatch.setenv(f"CONVEYOR_STORAGE_{name}", value)
    default_storage.cache_clear()
    try:
        uri = ExecutionScope("n", "f", "e").task_file("t", "r", "out.txt")
        default_storage().put(uri, io.BytesIO(b"from s3"))
        assert render_value("{{ read(uri) }}", {"uri": uri}) == "from s3"
        default_storage().put(uri, io.BytesIO(b"x" * 17))
        with pytest.raises(RenderError, match="17 bytes, more than the limit of 16"):
            render_value("{{ read(uri) }}", {"uri": uri})
    finally:
        default_storage.cache_clear()
