"""The internal storage's two backends: S3Mock's start time, and put/get throughput of one file on each.

    .venv/bin/python bench/storage.py                 # 64 MiB, the local directory and S3Mock (started here)
    .venv/bin/python bench/storage.py --mib 16

Prints one table: for each backend, the seconds to store the file (streamed from memory), to read it back
(streamed), and `read()` of a 1 MiB file through the expression function (the process's storage).
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

from conveyor.common.render import render_value
from conveyor.common.servers.s3mock import start_s3
from conveyor.common.storage import Storage, StorageSettings, default_storage, open_storage
from conveyor.common.storage.uri import ExecutionScope

_CHUNK = 1 << 20


def measure(storage: Storage, data: bytes, env: dict[str, str]) -> tuple[float, float, float]:
    scope = ExecutionScope("bench", "storage", f"e{time.time_ns()}")
    uri = scope.task_file("t", "r", "big.bin")
    started = time.monotonic()
    storage.put(uri, io.BytesIO(data))
    put = time.monotonic() - started
    started = time.monotonic()
    with storage.open(uri) as stream:
        while stream.read(_CHUNK):
            pass
    get = time.monotonic() - started
    small = scope.task_file("t", "r", "small.txt")
    storage.put(small, io.BytesIO(b"x" * _CHUNK))
    os.environ.update(env)
    default_storage.cache_clear()
    started = time.monotonic()
    assert len(render_value("{{ read(uri) }}", {"uri": small})) == _CHUNK
    read = time.monotonic() - started
    storage.delete(scope.prefix)
    return put, get, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="size of the file (MiB, default 64)")
    args = parser.parse_args()
    data = os.urandom(args.mib * _CHUNK)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; file of {args.mib} MiB")
    with tempfile.TemporaryDirectory() as root:
        local_env = {"CONVEYOR_STORAGE_TYPE": "local", "CONVEYOR_STORAGE_LOCAL_ROOT": root}
        rows = [
            ("local directory", 0.0, *measure(open_storage(StorageSettings(local_root=Path(root))), data, local_env))
        ]
    server = start_s3()
    try:
        s3_env = {
            "CONVEYOR_STORAGE_TYPE": "s3",
            "CONVEYOR_STORAGE_S3_ENDPOINT": server.endpoint,
            "CONVEYOR_STORAGE_S3_BUCKET": "bench",
            "CONVEYOR_STORAGE_S3_ACCESS_KEY": "bench",
            "CONVEYOR_STORAGE_S3_SECRET_KEY": "bench",
        }
        os.environ.update(s3_env)
        storage = open_storage(StorageSettings())  # from the environment just set
        rows.append(("S3Mock (S3 API)", server.started_in, *measure(storage, data, s3_env)))
    finally:
        server.stop()
    print(
        f"{'backend':<16} | {'start (s)':>9} | {'put (s)':>7} | {'put MiB/s':>9} | {'get (s)':>7} | "
        f"{'get MiB/s':>9} | {'read() 1 MiB (ms)':>17}"
    )
    print("-" * 98)
    for name, start, put, get, read in rows:
        print(
            f"{name:<16} | {start:>9.1f} | {put:>7.2f} | {args.mib / put:>9.0f} | {get:>7.2f} | "
            f"{args.mib / get:>9.0f} | {read * 1000:>17.1f}"
        )


if __name__ == "__main__":
    main()
