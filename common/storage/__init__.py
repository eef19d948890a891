"""The internal storage: files by `kestra:///…` URI (`uri.py`) behind one interface (`base.Storage`), on a
local directory (`local.py`, the default) or an S3-compatible object store (`s3.py`), chosen by
`CONVEYOR_STORAGE_TYPE` (`settings.py`)."""

from __future__ import annotations

from functools import cache

from conveyor.common.storage.base import FileNotFound, Storage, StorageError, StoredFile
from conveyor.common.storage.settings import StorageSettings
from conveyor.common.storage.uri import ExecutionScope, StorageURIError, file_name, key_of


def open_storage(settings: StorageSettings | None = None) -> Storage:
    """The backend `settings` (else the environment's `CONVEYOR_STORAGE_*`) name."""
    settings = settings or StorageSettings()
    if settings.type == "s3":
        from conveyor.common.storage.s3 import S3Storage  # boto3 loads only where S3 is used

        return S3Storage(settings)
    from conveyor.common.storage.local import LocalStorage

    return LocalStorage(settings.local_root)


@cache
def default_storage() -> Storage:
    """The process's storage, from its environment, made once (the expression functions use it)."""
    return open_storage()


__all__ = [
    "ExecutionScope",
    "FileNotFound",
    "Storage",
    "StorageError",
    "StorageSettings",
    "StorageURIError",
    "StoredFile",
    "default_storage",
    "file_name",
    "key_of",
    "open_storage",
]
