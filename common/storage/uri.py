"""Storage URIs in the reference's scheme, so that flows port unchanged:

    kestra:///{namespace as folders}/{flow}/executions/{execution}/tasks/{task}/{taskrun}/{file}
    kestra:///{namespace as folders}/{flow}/executions/{execution}/inputs/{input}/{file}

The namespace's dots become folders (`company.team` is `company/team`), as the reference lays them out.
A URI is a key in the storage: its path without the leading slash.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

SCHEME = "kestra://"


class StorageURIError(ValueError):
    """Not a URI of the internal storage, or one that would leave it (`..`, empty segments)."""


def _segment(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise StorageURIError(f"{what} {value!r} cannot be a storage path segment")
    return value


@dataclass(frozen=True)
class ExecutionScope:
    """Where one execution's files live: every URI of theirs starts with `prefix`."""

    namespace: str
    flow_id: str
    execution_id: str

    @property
    def key(self) -> str:
        folders = [_segment(part, "namespace part") for part in self.namespace.split(".")]
        flow = _segment(self.flow_id, "flow id")
        execution = _segment(self.execution_id, "execution id")
        return "/".join([*folders, flow, "executions", execution])

    @property
    def prefix(self) -> str:
        return f"{SCHEME}/{self.key}/"

    def task_file(self, task_id: str, task_run_id: str, name: str) -> str:
        return self.prefix + "/".join(
            ["tasks", _segment(task_id, "task id"), _segment(task_run_id, "task run id"), _file_path(name)]
        )

    def input_file(self, input_id: str, name: str) -> str:
        return self.prefix + "/".join(["inputs", _segment(input_id, "input id"), _segment(name, "file name")])

    def owns(self, uri: str) -> bool:
        """True when `uri` is a file of this execution (and not a trick such as `../`)."""
        try:
            return key_of(uri).startswith(self.key + "/")
        except StorageURIError:
            return False


def parent_scope(trigger: object) -> ExecutionScope | None:
    """The parent execution of a child started by a Subflow or ForEachItem, from its `trigger` variables: the
    child may read its parent's files too (a ForEachItem batch, a file passed as an input)."""
    if not isinstance(trigger, dict) or not trigger.get("taskRunId"):
        return None
    parts = [trigger.get(name) for name in ("namespace", "flowId", "executionId")]
    if not all(isinstance(part, str) and part for part in parts):
        return None
    return ExecutionScope(str(parts[0]), str(parts[1]), str(parts[2]))


def readable(uri: str, own: ExecutionScope, trigger: object) -> bool:
    """An execution reads its own files and, as a subflow's child, its parent's."""
    parent = parent_scope(trigger)
    return own.owns(uri) or (parent is not None and parent.owns(uri))


def _file_path(name: str) -> str:
    """A relative file path (an output file may sit in a sub-folder of the working directory)."""
    normal = posixpath.normpath(name)
    if normal.startswith(("/", "../")) or normal in (".", ".."):
        raise StorageURIError(f"file name {name!r} leaves its folder")
    return normal


def key_of(uri: str) -> str:
    """The storage key of `uri` (`kestra:///a/b` is `a/b`); `StorageURIError` if it is not one of ours."""
    if not isinstance(uri, str) or not uri.startswith(SCHEME + "/"):
        raise StorageURIError(f"not an internal storage URI (kestra:///…): {str(uri)[:120]!r}")
    path = uri[len(SCHEME) + 1 :]
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts):
        raise StorageURIError(f"malformed internal storage URI: {uri[:120]!r}")
    return path


def uri_of(key: str) -> str:
    return f"{SCHEME}/{key}"


def file_name(uri: str) -> str:
    return key_of(uri).rsplit("/", 1)[-1]


def prefix_key(prefix: str) -> str:
    """The key prefix of a folder URI: `kestra:///a/b/` is `a/b/`, `kestra:///` (everything) is ``."""
    if prefix == SCHEME + "/":
        return ""
    return key_of(prefix.rstrip("/")) + "/"


def is_storage_uri(value: object) -> bool:
    try:
        key_of(value)  # type: ignore[arg-type]
    except StorageURIError:
        return False
    return True
