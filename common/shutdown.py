"""Shutdown in one place: SIGTERM/SIGINT set a stop flag that every loop checks between bounded polls;
a second one exits at once. SIGHUP is the parent-death signal of a process the project started
(`servers/process.py` `die_with_parent`): it stops the same way, but never escalates, since the kernel sends
it again for each thread of the dead parent that ends."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)

PARENT_DEATH_SIGNAL = signal.SIGHUP


def stop_on_signals(stop: threading.Event | None = None) -> threading.Event:
    stop = stop or threading.Event()

    def handler(signum: int, _: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("%s received: stopping (send it again to exit at once)", signal.Signals(signum).name)
        stop.set()

    def parent_died(signum: int, _: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received (the parent process ended): stopping", signal.Signals(signum).name)
            stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    signal.signal(PARENT_DEATH_SIGNAL, parent_died)
    return stop
