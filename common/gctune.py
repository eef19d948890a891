"""Garbage-collector settings for the long-running services.

The services allocate many short-lived objects per message (decoded events, models, JSON) and keep a
large, long-lived heap (an executor's execution states, imported modules). With CPython's default
thresholds the cyclic collector runs every 700 net allocations and regularly walks that whole heap: in
the executor it was a fifth of the time under load. What exists at start-up is frozen (never scanned
again) and the youngest generation is collected less often; reference counting still frees almost
everything at once, the collector only finds cycles.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
