"""ForEachItem's heavy file work, on a worker (`worker.runners.items`): the batches its `items` file is cut
into, and the merge of its children's outputs. The executor never reads these files.

The source is streamed (a chunk at a time, never whole): for `rows` and `bytes` one batch is held at a time
and stored once full; for `partitions` the lines are dealt round-robin into that many temporary files, then
stored (the empty ones left out, as the reference does). Where each file goes is
`common.storage.items`; the merged file (`outputs.jsonl`, one JSON object per child with outputs, in batch
order) is written once, when the last child ended.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, BinaryIO

from conveyor.common.storage import ExecutionScope, Storage, default_storage, file_name
from conveyor.common.storage.items import batch_uri, extension, merged_uri, outputs_folder
from conveyor.common.storage.uri import key_of

_CHUNK = 1 << 20
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)I?B?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# The most partitions one ForEachItem may ask for (each is a temporary file open at once).
MAX_PARTITIONS = 10_000


class ItemsError(ValueError):
    """The items cannot be split (not a storage URI, a bad batch setting): the task run fails with this."""


def parse_bytes(value: str | int) -> int:
    """`10MB`, `200KB`, `1.5 GB` or a plain number of bytes, as the reference's readable sizes."""
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if match is None:
            raise ItemsError(f"batch.bytes: {value!r} is not a size (a number of bytes, or e.g. 10MB, 200KB)")
        size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size <= 0:
        raise ItemsError(f"batch.bytes must be positive, got {value!r}")
    return size


def lines(stream: BinaryIO) -> Iterator[bytes]:
    """The stream's lines without their end (`\\n`, `\\r\\n`), read a chunk at a time."""
    rest = b""
    while chunk := stream.read(_CHUNK):
        rest += chunk
        *complete, rest = rest.split(b"\n")
        for line in complete:
            yield line.removesuffix(b"\r")
    if rest:
        yield rest.removesuffix(b"\r")


def split(
    source: str,
    target: ExecutionScope,
    task_id: str,
    task_run_id: str,
    *,
    rows: int | None = None,
    max_bytes: int | None = None,
    partitions: int | None = None,
    separator: str = "\n",
    storage: Storage | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> int:
    """Cut the file at `source` into batches stored under the task run's folder; returns how many. `stopped`
    is asked before each batch is stored: a killed attempt stops there (`ItemsError`)."""
    try:
        key_of(source)
    except ValueError:
        raise ItemsError(f"items must be an internal storage URI (kestra:///…), got {source[:120]!r}") from None
    storage = storage or default_storage()
    ext = extension(source)
    sep = separator.encode()

    def store(iteration: int, data: IO[bytes]) -> None:
        if stopped():
            raise ItemsError(f"stopped before batch {iteration} was stored")
        data.seek(0)
        storage.put(batch_uri(target, task_id, task_run_id, ext, iteration), data)  # type: ignore[arg-type]

    with storage.open(source) as stream:
        if partitions is not None:
            return _partition(lines(stream), partitions, sep, store)
        count = 0
        batch = io.BytesIO()
        batch_rows = 0
        for line in lines(stream):
            full = (max_bytes is not None and batch.tell() >= max_bytes) or (
                max_bytes is None and rows is not None and batch_rows >= rows
            )
            if batch_rows and full:
                count += 1
                store(count, batch)
                batch, batch_rows = io.BytesIO(), 0
            batch.write(line + sep)
            batch_rows += 1
        if batch_rows:
            count += 1
            store(count, batch)
        return count


def _partition(source: Iterator[bytes], partitions: int, sep: bytes, store: Callable[[int, IO[bytes]], None]) -> int:
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise ItemsError(f"batch.partitions must be between 1 and {MAX_PARTITIONS}, got {partitions}")
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(partitions)]
        for index, line in enumerate(source):
            files[index % partitions].write(line + sep)
        count = 0
        for data in files:
            if data.tell():
                count += 1
                store(count, data)
        return count


def merge_outputs(scope: ExecutionScope, task_id: str, task_run_id: str) -> str | None:
    """Concatenate the children's outputs in batch order into one file; its URI, None when no child had any."""
    storage = default_storage()
    folder = outputs_folder(scope, task_id, task_run_id)
    found = sorted(
        (int(name.removesuffix(".json")), f.uri)
        for f in storage.files(folder)
        if (name := file_name(f.uri)).removesuffix(".json").isdigit()
    )
    if not found:
        return None
    merged = merged_uri(scope, task_id, task_run_id)
    with tempfile.TemporaryFile() as out:
        for _, uri in found:
            with storage.open(uri) as part:
                while chunk := part.read(_CHUNK):
                    out.write(chunk)
        out.seek(0)
        storage.put(merged, out)
    return merged
