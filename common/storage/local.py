"""The local-directory backend: a URI's key is a path under `root` (the default; `conveyor up` puts it under
the stack's home). Writes go to a temporary file renamed into place, so a reader never sees half a file."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from conveyor.common.storage.base import FileNotFound, StoredFile
from conveyor.common.storage.uri import key_of, prefix_key, uri_of

_CHUNK = 1 << 20


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, uri: str) -> Path:
        return self.root / key_of(uri)

    def put(self, uri: str, data: BinaryIO) -> int:
        path = self._path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".part-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(data, out, _CHUNK)
                written = out.tell()
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return written

    def open(self, uri: str) -> BinaryIO:
        try:
            return self._path(uri).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFound(uri) from None

    def size(self, uri: str) -> int:
        path = self._path(uri)
        if not path.is_file():
            raise FileNotFound(uri)
        return path.stat().st_size

    def files(self, prefix: str) -> Iterator[StoredFile]:
        key = prefix_key(prefix)
        base = self.root / key if key else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".part-"):
                stat = path.stat()
                yield StoredFile(
                    uri_of(path.relative_to(self.root).as_posix()),
                    stat.st_size,
                    datetime.fromtimestamp(stat.st_mtime, UTC),
                )

    def delete(self, prefix: str) -> int:
        key = prefix_key(prefix)
        base = self.root / key if key else self.root
        if not base.is_dir():
            return 0
        count = sum(1 for path in base.rglob("*") if path.is_file())
        shutil.rmtree(base, ignore_errors=True)
        return count

    def remove(self, uri: str) -> bool:
        path = self._path(uri)
        if not path.is_file():
            return False
        path.unlink(missing_ok=True)
        return True
