"""Errors of `conveyor.common.servers`.

ServerError (ConveyorError)   a local Kafka or Elasticsearch could not be fetched or started
├── FetchError                Maven could not fetch a server's files, or they could not be unpacked
└── StartError                a server exited or was not healthy in time; the message ends with the
                              tail of its log, so a failed test run shows why without digging

All of them are fatal: the same call would fail the same way again.
"""

from __future__ import annotations

from conveyor.common.errors import ConveyorError


class ServerError(ConveyorError):
    """A local server could not be fetched or started."""


class FetchError(ServerError):
    """Maven could not fetch a server's files, or they could not be unpacked."""


class StartError(ServerError):
    """A server exited or was not healthy in time."""
