"""The one storage interface every service uses; `local.py` and `s3.py` are its backends."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol


class StorageError(Exception):
    """A storage operation failed (the backend's own error is its cause)."""


class FileNotFound(StorageError):
    """No file at that URI."""


@dataclass(frozen=True)
class StoredFile:
    uri: str
    size: int
    modified: datetime


class Storage(Protocol):
    """Files by their `kestra:///…` URI. Writes replace; reads of a missing file raise `FileNotFound`."""

    def put(self, uri: str, data: BinaryIO) -> int:
        """Store the stream's bytes at `uri`; returns the number of bytes stored."""
        ...

    def open(self, uri: str) -> BinaryIO:
        """A stream of the file's bytes (the caller closes it)."""
        ...

    def size(self, uri: str) -> int: ...

    def files(self, prefix: str) -> Iterator[StoredFile]:
        """Every file whose URI starts with `prefix` (a `kestra:///…/` folder)."""
        ...

    def delete(self, prefix: str) -> int:
        """Remove every file under `prefix`; returns how many."""
        ...

    def remove(self, uri: str) -> bool:
        """Remove the one file at `uri`; False when there was none."""
        ...
