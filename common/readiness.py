"""Why this process is not ready, beyond its Kafka loop: each reason by a key, set and cleared by the part
that sees it (the indexer while Elasticsearch refuses writes). `/readyz` answers 503 with them
(`observability.py`); nothing is dropped meanwhile, the service only says it cannot make progress."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_reasons: dict[str, str] = {}


def not_ready(key: str, reason: str) -> None:
    with _lock:
        _reasons[key] = reason


def ready_again(key: str) -> None:
    with _lock:
        _reasons.pop(key, None)


def reasons() -> list[str]:
    with _lock:
        return list(_reasons.values())
