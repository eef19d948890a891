"""A fixed set of daemon threads running attempts, as dramatiq's WorkerThreads do.

The consumer loop hands work over only when it has room (see `backpressure`), so the queue between them
never holds more than the pool's size. The threads are daemons: an attempt that ignores its stop event
cannot keep the process alive after the worker has given up on it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class ThreadPool(Generic[T]):
    def __init__(self, size: int, handle: Callable[[T], None], name: str = "conveyor-worker") -> None:
        self._work: queue.SimpleQueue[T | None] = queue.SimpleQueue()
        self._handle = handle
        self._threads = [threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True) for i in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, item: T) -> None:
        self._work.put(item)

    def _loop(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            try:
                self._handle(item)
            except Exception:  # `handle` reports its own failures; this only keeps the thread alive
                log.exception("worker thread: unhandled error")

    def stop(self, timeout: float = 0.0) -> None:
        """Let every thread end after its current item, waiting at most `timeout` seconds for them."""
        for _ in self._threads:
            self._work.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
