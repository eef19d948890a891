"""The S3-compatible backend (boto3): a URI's key is the object key in one bucket, shared by every worker and
server of a cluster. Uploads stream (multipart past boto3's threshold); the bucket is created when missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from conveyor.common.storage.base import FileNotFound, StorageError, StoredFile
from conveyor.common.storage.settings import StorageSettings
from conveyor.common.storage.uri import key_of, prefix_key, uri_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"404", "NoSuchKey", "NotFound"}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Storage:
    def __init__(self, settings: StorageSettings) -> None:
        self.bucket = settings.s3_bucket
        access = settings.s3_access_key.get_secret_value() if settings.s3_access_key else None
        secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
        addressing: Any = {"addressing_style": "path" if settings.s3_path_style else "auto"}
        self.client: S3Client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            config=Config(s3=addressing, retries={"max_attempts": 5, "mode": "standard"}),
        )
        self._bucket_checked = False

    def _ensure_bucket(self) -> None:
        if self._bucket_checked:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if _code(error) not in _MISSING and _code(error) != "NoSuchBucket":
                raise StorageError(f"bucket {self.bucket!r}: {error}") from error
            self.client.create_bucket(Bucket=self.bucket)
        self._bucket_checked = True

    def put(self, uri: str, data: BinaryIO) -> int:
        key = key_of(uri)
        counted = _Counting(data)
        try:
            self._ensure_bucket()
            self.client.upload_fileobj(cast(Any, counted), self.bucket, key)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot store {uri}: {error}") from error
        return counted.count

    def open(self, uri: str) -> BinaryIO:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key_of(uri))["Body"]
        except ClientError as error:
            if _code(error) in _MISSING or _code(error) == "NoSuchBucket":
                raise FileNotFound(uri) from None
            raise StorageError(f"cannot read {uri}: {error}") from error
        return cast(BinaryIO, body)

    def size(self, uri: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key_of(uri))["ContentLength"])
        except ClientError as error:
            if _code(error) in _MISSING or _code(error) == "NoSuchBucket":
                raise FileNotFound(uri) from None
            raise StorageError(f"cannot read {uri}: {error}") from error

    def files(self, prefix: str) -> Iterator[StoredFile]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix_key(prefix)):
                for item in page.get("Contents", []):
                    yield StoredFile(uri_of(item["Key"]), int(item["Size"]), item["LastModified"])
        except ClientError as error:
            if _code(error) == "NoSuchBucket":
                return
            raise StorageError(f"cannot list {prefix}: {error}") from error

    def remove(self, uri: str) -> bool:
        try:
            self.size(uri)
        except FileNotFound:
            return False
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key_of(uri))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot delete {uri}: {error}") from error
        return True

    def delete(self, prefix: str) -> int:
        keys = [key_of(f.uri) for f in self.files(prefix)]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        return len(keys)


class _Counting:
    """A read-only stream that counts the bytes read through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.inner.read(size)
        self.count += len(chunk)
        return chunk
