"""What the API's OpenAPI document names but no JSON Schema can say, taught to schemathesis (loaded through
`SCHEMATHESIS_HOOKS` by `tests/integration/test_api_schema.py`):

- `conveyor-flow-yaml`: the body of `POST /api/v1/flows`, a valid flow's YAML: a flow of `examples/` or of
  the reference corpus under a generated id (malformed flows are fuzzed in `tests/unit/test_loader_fuzz.py`
  and `test_api_schema.py`, which checks that each is answered 4xx naming the field);
- `conveyor-page-cursor`: the `after` of a task-run search, a cursor as the API returns them (the start
  date and the id of the last task run of a page); `conveyor-log-cursor`: that of the log search.

`application/x-yaml` bodies are sent as the text they are (schemathesis would dump the string as a YAML
scalar).
"""

from __future__ import annotations

import importlib
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.hooks import HookContext

from conveyor.api.errors import ApiError
from conveyor.api.params import parse_when
from conveyor.api.taskruns import MAX_DAYS
from conveyor.indexer.dsl import MAX_WINDOW, encode_cursor
from conveyor.indexer.filters import DEFAULT_SIZE

ROOT = Path(__file__).resolve().parents[2]
FLOWS = sorted([*(ROOT / "examples").glob("*.yaml"), *(ROOT / "tests/corpus/kestra/flows").glob("*.yaml")])
_SOURCES = [p.read_text(encoding="utf-8") for p in FLOWS]
_ID = re.compile(r"^id: .*$", re.MULTILINE)


def _renamed(source: str, flow_id: str) -> str:
    return _ID.sub(f"id: {flow_id}", source, count=1)


flow_yaml = st.builds(_renamed, st.sampled_from(_SOURCES), st.from_regex(r"\Af[a-z0-9]{0,8}\Z"))
page_cursor = st.builds(
    lambda when, last: encode_cursor([when, last]),
    st.integers(min_value=0, max_value=4_102_444_800_000),
    st.from_regex(r"\A[a-z0-9-]{1,20}\Z"),
)

schemathesis.openapi.format("conveyor-flow-yaml", flow_yaml)

# The requests transport registers its own YAML serializer on import: ours must come after it.
importlib.import_module("schemathesis.transport.requests")


@schemathesis.serializer("application/x-yaml")
def _yaml_text(_: Any, value: Any) -> bytes | None:
    """The body is the YAML text itself, not a string serialized as a YAML scalar."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else str(value).encode()


schemathesis.openapi.format("conveyor-page-cursor", page_cursor)
# `after` of the log search: the timestamp, partition and offset of a page's last line.
log_cursor = st.builds(
    lambda when, partition, offset: encode_cursor([when, partition, offset]),
    st.integers(min_value=0, max_value=4_102_444_800_000),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=2**40),
)
schemathesis.openapi.format("conveyor-log-cursor", log_cursor)
# `since` of the audit trail: an ISO date-time or date, or a duration back from now.
schemathesis.openapi.format(
    "conveyor-since",
    st.one_of(
        st.sampled_from(["P1D", "PT6H", "P2W", "P1DT12H", "PT30M"]),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(lambda d: d.isoformat()),
        st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)).map(lambda d: d.isoformat()),
    ),
)


# What the document says in words only (one parameter bounded by another), applied to the generated
# requests of the task-run and execution searches and the daily statistics: a numbered page stays within the first
# `MAX_WINDOW` hits (`page` x `size`), `endDate` is not before `startDate`, and a statistics window spans at
# most `MAX_DAYS` days. Only schema-valid values are adjusted; schema-violating ones stay as generated.


def _when(value: Any, *, end: bool = False) -> datetime | None:
    try:
        return parse_when(value, "date", end=end) if isinstance(value, str) else None
    except ApiError:
        return None


def _parsed(values: dict[str, Any]) -> bool:
    """Whether `startDate` and `endDate` are absent, empty or valid (else the request is left as it is)."""
    return all(not values.get(k) or _when(values[k]) is not None for k in ("startDate", "endDate"))


def _ordered(values: dict[str, Any]) -> None:
    start, end = _when(values.get("startDate")), _when(values.get("endDate"), end=True)
    if _parsed(values) and start is not None and end is not None and end < start:
        values["startDate"], values["endDate"] = values["endDate"], values["startDate"]


PAGED = ("/api/v1/taskruns/search", "/api/v1/executions/search", "/api/v1/logs/search")
# The deletion and the unqueue by query: their dates are ordered too.
BY_QUERY = ("/api/v1/executions/by-query", "/api/v1/executions/unqueue/by-query")


@schemathesis.hook
def map_query(context: HookContext, query: Any) -> Any:
    if context.operation is not None and context.operation.path in BY_QUERY and query:
        query = dict(query)
        _ordered(query)
        return query
    if context.operation is None or context.operation.path not in PAGED or not query:
        return query
    query = dict(query)
    page, size = query.get("page", 1), query.get("size", DEFAULT_SIZE)
    if isinstance(page, int) and isinstance(size, int) and size >= 1 and page * size >= MAX_WINDOW:
        query["page"] = max(1, (MAX_WINDOW - 1) // size)
    _ordered(query)
    return query


@schemathesis.hook
def map_body(context: HookContext, body: Any) -> Any:
    if context.operation is None or context.operation.path != "/api/v1/stats/taskruns/daily":
        return body
    if not isinstance(body, dict) or not _parsed(body):
        return body
    body = dict(body)
    _ordered(body)
    start, end = _when(body.get("startDate")), _when(body.get("endDate"), end=True)
    last = end.date() if end else datetime.now(UTC).date()
    first = start.date() if start else last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_DAYS:
        body.pop("startDate", None)
        body.pop("endDate", None)
    return body
