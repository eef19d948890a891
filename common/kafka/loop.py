"""The outer loop every Kafka service runs: call `run_once` until `stop` is set, ride out a retryable Kafka
error (logged, then a second's pause), close the service at the end whatever happened."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from conveyor.common.kafka.errors import RetryableKafkaError

log = logging.getLogger(__name__)


def run_until_stopped(stop: threading.Event, run_once: Callable[[], object], close: Callable[[], None]) -> None:
    try:
        while not stop.is_set():
            try:
                run_once()
            except RetryableKafkaError as exc:
                log.warning("Kafka hiccup, retrying: %s", exc)
                stop.wait(1.0)
    finally:
        close()
