"""A WorkingDirectory's `cache: {patterns, ttl}` (the reference's): the files of the directory matching
`patterns` are kept between executions of the flow, as one zip archive in the internal storage.

- Where: `kestra:///{namespace as folders}/{flow}/_cache/{task id}/cache.zip`; inside a ForEach, one per
  value (`…/{task id}/{sha256 of the value}/cache.zip`), as the reference keys it by the task run's value.
- Before the group's first task (and before the namespace files and `inputFiles`, which win over it), the
  archive is unpacked into the fresh directory; one older than `ttl` is deleted instead and the directory
  starts empty. An entry that would leave the directory is skipped.
- After the tasks, when the group succeeded and the matching files differ from what was unpacked (a file
  added, removed, or written: its modification time or size), or there was no archive, they are archived
  again and replace it; otherwise the archive is left alone.
  A problem with the cache is a WARN line, never the group's failure (the reference logs it too).
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from conveyor.common.clock import utcnow
from conveyor.common.storage import Storage, default_storage
from conveyor.common.storage.uri import SCHEME
from conveyor.common.tasks.flowable import WorkingDirectory
from conveyor.worker.runners.base import RunContext

ARCHIVE = "cache.zip"


def cache_uri(ctx: RunContext) -> str:
    run = ctx.job.task_run
    parts = [*run.namespace.split("."), run.flow_id, "_cache", run.task_id]
    if run.value is not None:
        parts.append(hashlib.sha256(str(run.value).encode()).hexdigest()[:32])
    return f"{SCHEME}/{'/'.join(parts)}/{ARCHIVE}"


class WorkdirCache:
    def __init__(self, task: WorkingDirectory, ctx: RunContext, directory: Path, storage: Storage | None = None):
        self.task, self.ctx, self.directory = task, ctx, directory
        self.storage = storage or default_storage()
        self.uri = cache_uri(ctx)
        # What the unpacked archive put there (path -> modification time and size); None without one.
        self.restored: dict[str, tuple[int, int]] | None = None

    def restore(self) -> None:
        if self.task.cache is None:
            return
        try:
            modified = self._modified()
            if modified is None:
                return
            ttl = self.task.cache.ttl
            if isinstance(ttl, timedelta) and utcnow() - modified > ttl:
                self.storage.remove(self.uri)
                self.ctx.log("DEBUG", f"cache: older than its ttl {ttl}: deleted")
                return
            count = self._unpack()
            self.restored = self._snapshot(self._matches())
            self.ctx.log("DEBUG", f"cache: {count} file(s) restored from {self.uri}")
        except (OSError, zipfile.BadZipFile) as exc:
            self.ctx.log("WARN", f"cache: could not restore {self.uri}: {type(exc).__name__}: {exc}")

    def save(self) -> None:
        if self.task.cache is None or self.ctx.stopped.is_set():
            return
        try:
            matched = self._matches()
            if not matched and self.restored is None:
                return  # nothing to keep
            if self.restored is not None and self._snapshot(matched) == self.restored:
                self.ctx.log("DEBUG", "cache: no cached file changed: kept as it was")
                return
            with tempfile.TemporaryDirectory(prefix="conveyor-cache-") as scratch:
                archive = Path(scratch) / ARCHIVE
                with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
                    for path in matched:
                        out.write(path, path.relative_to(self.directory.resolve()).as_posix())
                with archive.open("rb") as data:
                    self.storage.put(self.uri, data)
            self.ctx.log("DEBUG", f"cache: {len(matched)} file(s) stored in {self.uri}")
        except OSError as exc:
            self.ctx.log("WARN", f"cache: could not store {self.uri}: {type(exc).__name__}: {exc}")

    def _snapshot(self, paths: list[Path]) -> dict[str, tuple[int, int]]:
        """Each file's modification time and size: a file added, removed or written since is a change (a
        comparison with the clock would miss a write within the file system's timestamp granularity)."""
        found = {}
        for path in paths:
            stat = path.stat()
            found[path.as_posix()] = (stat.st_mtime_ns, stat.st_size)
        return found

    def _modified(self) -> datetime | None:
        folder = self.uri.rsplit("/", 1)[0] + "/"
        for stored in self.storage.files(folder):
            if stored.uri == self.uri:
                return stored.modified
        return None

    def _unpack(self) -> int:
        root = self.directory.resolve()
        count = 0
        with self.storage.open(self.uri) as stream, tempfile.TemporaryFile() as local:
            while chunk := stream.read(1 << 20):
                local.write(chunk)
            local.seek(0)
            with zipfile.ZipFile(local) as archive:
                for entry in archive.infolist():
                    target = (root / entry.filename).resolve()
                    if entry.is_dir() or os.path.isabs(entry.filename) or not target.is_relative_to(root):
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(entry) as source, target.open("wb") as out:
                        while chunk := source.read(1 << 20):
                            out.write(chunk)
                    count += 1
        return count

    def _matches(self) -> list[Path]:
        assert self.task.cache is not None
        found: dict[str, Path] = {}
        root = self.directory.resolve()
        for pattern in self.task.cache.patterns:
            for match in glob.glob(str(pattern), root_dir=self.directory, recursive=True):
                path = (self.directory / match).resolve()
                if path.is_file() and path.is_relative_to(root):
                    found.setdefault(path.relative_to(root).as_posix(), path)
        return [found[name] for name in sorted(found)]
