"""Failed sign-ins, counted per user and per client address in a sliding window (memory of this server).

`check(keys)` says how long to wait (seconds) when any key had `limit` failures within the window, else 0;
`fail(keys)` records one failure under each key; `forget(key)` clears a key (a user who signed in). Memory
is bounded: each key keeps at most `limit` timestamps, and at most `MAX_KEYS` keys are kept (oldest dropped).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

MAX_KEYS = 100_000


class FailureLimiter:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, keys: Iterable[str]) -> int:
        """Seconds until another attempt is allowed (rounded up), 0 when it is allowed now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if times is None:
                    continue
                while times and now - times[0] >= self.window:
                    times.popleft()
                if len(times) >= self.limit:
                    wait = max(wait, times[0] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def fail(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                times = self._failures.setdefault(key, deque(maxlen=self.limit))
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
