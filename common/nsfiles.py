"""Namespace files: files a namespace keeps for its flows (scripts, SQL, configuration), in the internal
storage at the reference's place, `kestra:///{namespace as folders}/_files/{path}`.

A path is relative (`scripts/etl.py`; a leading `/` is dropped), of non-empty segments, never `.` or `..`,
at most `MAX_PATH` characters, no control character, no segment longer than 255 characters. Namespace files are
the namespace's own: `namespace.child` has others. The API (`/api/v1/namespaces/{ns}/files…`), the CLI
(`conveyor nsfiles …`), `read('path')` in expressions and the script tasks' `namespaceFiles` all go through
this module.

Every store of a file also keeps its content as the file's next revision (1, 2, …), as the reference keeps
versions of namespace files: `revisions()` lists them, `open_revision()` reads one; deleting the file removes
them. Two writers storing one path at the same instant may take the same number (the later content wins).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from conveyor.common.storage import FileNotFound, Storage, StorageURIError, default_storage
from conveyor.common.storage.uri import SCHEME, key_of

FOLDER = "_files"
# Every version a file had, one stored file per revision: `{namespace folders}/_files_revisions/{path}/{N}`.
REVISIONS = "_files_revisions"
MAX_PATH = 1000
# A file system's limit on one name (and so one segment of a path), in characters.
MAX_SEGMENT = 255


class NamespaceFileError(ValueError):
    """A path that cannot be a namespace file's (its message names what is wrong)."""


@dataclass(frozen=True)
class NamespaceFile:
    path: str
    size: int
    modified: datetime

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "size": self.size, "updated": self.modified.isoformat()}


_CHAR = r"[^/\x00-\x1f\x7f]"
_NON_DOT = r"[^/\x00-\x1f\x7f.]"
_SEGMENT = (  # a segment that is not `.` or `..`, of 1 to MAX_SEGMENT characters
    rf"(?:{_NON_DOT}{_CHAR}{{0,{MAX_SEGMENT - 1}}}"
    rf"|\.{_NON_DOT}{_CHAR}{{0,{MAX_SEGMENT - 2}}}"
    rf"|\.\.{_CHAR}{{1,{MAX_SEGMENT - 2}}})"
)
# What `clean_path` accepts, as a regular expression (the API's OpenAPI document says it with this).
PATH_PATTERN = rf"^/?{_SEGMENT}(?:/{_SEGMENT})*$"


def clean_path(path: str) -> str:
    """The relative path of a namespace file (one leading `/` dropped); `NamespaceFileError` when it is not one."""
    text = str(path)
    text = text[1:] if text.startswith("/") else text
    if not text or len(text) > MAX_PATH:
        shown = str(path)[:120]
        raise NamespaceFileError(f"path {shown!r}: expected a relative file path of 1 to {MAX_PATH} characters")
    parts = text.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise NamespaceFileError(f"path {text[:120]!r}: empty, '.' or '..' segments are not allowed")
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise NamespaceFileError(f"path {text[:120]!r}: control characters are not allowed")
    if any(len(part) > MAX_SEGMENT for part in parts):
        raise NamespaceFileError(f"path {text[:120]!r}: a segment is longer than {MAX_SEGMENT} characters")
    return text


def root(namespace: str, folder: str = FOLDER) -> str:
    """The folder URI of the namespace's files (ends with `/`)."""
    parts = namespace.split(".")
    if not namespace or any(not part or part in (".", "..") or "/" in part for part in parts):
        raise NamespaceFileError(f"namespace {namespace!r} cannot hold files")
    return f"{SCHEME}/{'/'.join(parts)}/{folder}/"


def uri(namespace: str, path: str) -> str:
    found = root(namespace) + clean_path(path)
    try:
        key_of(found)
    except StorageURIError as exc:
        raise NamespaceFileError(str(exc)) from None
    return found


def put(namespace: str, path: str, data: BinaryIO, storage: Storage | None = None) -> int:
    """Store `data` as the file `path` (replacing it) and as its next revision; the size stored."""
    return put_revision(namespace, path, data, storage)[0]


def put_revision(namespace: str, path: str, data: BinaryIO, storage: Storage | None = None) -> tuple[int, int]:
    """`put`, with the revision it made: (size, revision). A file stored before revisions were kept first
    becomes revision 1, so no content is lost."""
    storage = storage or default_storage()
    target = uri(namespace, path)
    known = revisions(namespace, path, storage)
    if not known and _exists(storage, target):
        _copy(storage, target, _revision_uri(namespace, path, 1))
        known = [Revision(1, 0, datetime.now())]
    size = storage.put(target, data)
    revision = (known[-1].revision if known else 0) + 1
    _copy(storage, target, _revision_uri(namespace, path, revision))
    return size, revision


@dataclass(frozen=True)
class Revision:
    revision: int
    size: int
    modified: datetime

    def to_dict(self) -> dict[str, object]:
        return {"revision": self.revision, "size": self.size, "updated": self.modified.isoformat()}


def _revision_uri(namespace: str, path: str, revision: int) -> str:
    return f"{root(namespace, REVISIONS)}{clean_path(path)}/{revision}"


def revisions(namespace: str, path: str, storage: Storage | None = None) -> list[Revision]:
    """The file's revisions, oldest first (none for a file never stored since revisions are kept)."""
    folder = f"{root(namespace, REVISIONS)}{clean_path(path)}/"
    try:
        found = list((storage or default_storage()).files(folder))
    except OSError:  # a name the file system cannot hold: none
        return []
    kept = [(f.uri[len(folder) :], f) for f in found]
    return sorted(
        (Revision(int(name), f.size, f.modified) for name, f in kept if name.isdigit()), key=lambda r: r.revision
    )


def open_revision(namespace: str, path: str, revision: int, storage: Storage | None = None) -> BinaryIO:
    """One revision's bytes (`FileNotFound` when the file never had it)."""
    found = _revision_uri(namespace, path, revision)
    try:
        return (storage or default_storage()).open(found)
    except OSError:
        raise FileNotFound(found) from None


def _exists(storage: Storage, target: str) -> bool:
    try:
        storage.size(target)
    except (FileNotFound, OSError):
        return False
    return True


def _copy(storage: Storage, source: str, target: str) -> None:
    with storage.open(source) as stream:
        storage.put(target, stream)


def open_file(namespace: str, path: str, storage: Storage | None = None) -> BinaryIO:
    """The file's bytes (`FileNotFound` when there is none, or its name is more than the file system takes)."""
    found = uri(namespace, path)
    try:
        return (storage or default_storage()).open(found)
    except OSError:  # a name the file system cannot hold (ENAMETOOLONG): no such file
        raise FileNotFound(found) from None


def size(namespace: str, path: str, storage: Storage | None = None) -> int:
    return (storage or default_storage()).size(uri(namespace, path))


def files(namespace: str, prefix: str = "", storage: Storage | None = None) -> Iterator[NamespaceFile]:
    """The namespace's files (under the folder `prefix`, when given), by path."""
    folder = root(namespace)
    if prefix.strip("/"):
        folder += clean_path(prefix).rstrip("/") + "/"
    base = len(root(namespace))
    try:
        found = list((storage or default_storage()).files(folder))
    except OSError:  # a folder name the file system cannot hold: no files
        return
    for stored in found:
        yield NamespaceFile(stored.uri[base:], stored.size, stored.modified)


def delete(namespace: str, path: str, storage: Storage | None = None) -> int:
    """Remove the file at `path`, or every file under the folder `path`, with their revisions; how many files
    were removed (revisions not counted)."""
    storage = storage or default_storage()
    history = f"{root(namespace, REVISIONS)}{clean_path(path)}/"
    try:
        if storage.remove(uri(namespace, path)):
            storage.delete(history)
            return 1
        removed = storage.delete(uri(namespace, path).rstrip("/") + "/")
        if removed:
            storage.delete(history)
        return removed
    except OSError:  # a name the file system cannot hold: nothing there
        return 0


def selected(paths: list[str], include: list[str], exclude: list[str]) -> list[str]:
    """The paths that match an `include` glob (all when there is none) and no `exclude` glob (the reference's
    `namespaceFiles` filters; `**` crosses folders, `*` too, as in its glob matching)."""
    chosen = []
    for path in paths:
        if include and not any(_matches(path, pattern) for pattern in include):
            continue
        if any(_matches(path, pattern) for pattern in exclude):
            continue
        chosen.append(path)
    return chosen


def _matches(path: str, pattern: str) -> bool:
    pattern = pattern.lstrip("/")
    return fnmatch.fnmatchcase(path, pattern) or (pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:]))
