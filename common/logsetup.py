"""Logging for Conveyor's processes: one line per record, ids from `extra` appended."""

from __future__ import annotations

import logging
import os
import sys

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extra.items()))
        return line


def configure_logging(level: str | None = None, service: str = "conveyor") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("CONVEYOR_LOG_LEVEL") or "INFO").upper())
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
