"""The audit trail: one `AuditRecord` on the `audit` topic for every mutation made through the HTTP API (deploy
or delete a flow, start, kill or restart an execution, create or revoke a token) and for every request that
was refused for want of credentials or rights, or for too many failed sign-ins (401, 403, 429). The indexer
writes them into the `{prefix}-audit` indices; `conveyor audit` and `GET /api/v1/audit` read them.

A record says who, what, on which namespace / flow / execution, when, from where and with what result. It
never holds a secret: no header, no request body, no token; `detail` is the API's own answer message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import Field

from conveyor.common.base import Model
from conveyor.common.ids import new_id

# `result` of a record: the request did what it asked; it was refused (401/403); it failed otherwise (4xx/5xx).
SUCCESS = "SUCCESS"
DENIED = "DENIED"
FAILED = "FAILED"

# Longest `detail` kept (the API's answer message).
MAX_DETAIL = 500


class AuditRecord(Model):
    id: str = Field(default_factory=new_id)
    timestamp: datetime
    # The identity's name as the server authenticated it; "anonymous" without one.
    user: str
    # What was asked: the route's name (`deploy_flow`, `start_execution`, `kill_execution`, ...), or
    # `METHOD /path` for a refused request that matched no route.
    action: str
    method: str
    path: str
    namespace: str | None = None
    flow_id: str | None = None
    execution_id: str | None = None
    # The client's address as the server saw it (host, or host:port).
    client: str | None = None
    status: int
    result: str
    detail: str | None = None

    @property
    def key(self) -> str:
        return self.user


def result_of(status: int) -> str:
    if status in (401, 403, 429):
        return DENIED
    return SUCCESS if status < 400 else FAILED


_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def parse_since(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """`--since` / `?since=`: an ISO-8601 date-time (UTC if naive) or date, or an ISO duration back from now
    (`P1D`, `PT6H`, `P1DT12H`, `P2W`). Raises ValueError naming what is expected."""
    if value is None or not value.strip():
        return None
    text = value.strip().upper()
    expected = f"expected an ISO date-time or a duration such as P1D or PT6H, got {value!r}"
    if text.startswith("P"):
        found = _DURATION.fullmatch(text)
        if found is None or not any(found.groups()) or text.endswith("T"):
            raise ValueError(expected)
        weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in found.groups())
        back = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
        return (now or datetime.now(UTC)) - back
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(expected) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
