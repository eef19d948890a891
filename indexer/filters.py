"""What a Task Runs search asks for: its filters and its page, each declared once.

The HTTP API (`conveyor.api.params`) and the CLI (`conveyor.cli.query`) build these; the query builders
(`conveyor.indexer.dsl`, `conveyor.indexer.queries`) take them.

- `namespace` matches the namespace and every namespace under it: `company` matches `company` and
  `company.team`, not `companyx` (the reference's rule).
- `state` is a list of states (any of them); `q` is a case-insensitive substring of an id, the
  namespace, the flow or task id (or a ForEach value).
- `allowed` confines everything to the namespaces under these prefixes (authorization); `()` matches nothing.
- `start` / `end` bound `state.startDate` (inclusive): what started in that window. The daily statistics
  count the whole days from `start`'s to `end`'s.
- A page is `size` hits in `sort` order (`id` breaks ties), after the `search_after` cursor or, for
  numbered pages, after the first `offset` hits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from conveyor.common.clock import parse_duration
from conveyor.common.state import StateType

Cursor = str
# A date-time (naive is UTC), a date, or an ISO-8601 string passed to Elasticsearch as it is.
When = datetime | date | str

DEFAULT_SIZE = 25
DEFAULT_SORT = "state.startDate:desc"


@dataclass(frozen=True, kw_only=True)
class SearchFilters:
    """The filters task runs and executions share."""

    namespace: str | None = None
    flow_id: str | None = None
    state: list[str] | None = None
    q: str | None = None
    start: When | None = None
    end: When | None = None
    # Every label given must be on the execution (task runs carry their execution's labels).
    labels: Mapping[str, str] | None = None
    # The namespace prefixes the caller may read (its role bindings), None for every namespace: applied
    # inside the query, so hits, totals, aggregations and cursors never reach past them.
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class TaskRunFilters(SearchFilters):
    execution_id: str | None = None
    task_id: str | None = None
    # Task runs of the executions the trigger of this id started.
    trigger_id: str | None = None
    # Task runs of the children of this execution (Subflow, ForEachItem).
    trigger_execution_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionFilters(SearchFilters):
    """`labels`: every one given must be on the execution; `trigger_id`: started by the trigger of that id."""

    trigger_id: str | None = None
    trigger_execution_id: str | None = None  # the children of this execution (Subflow, ForEachItem)
    # The reference's `childFilter`: CHILD, only executions a Subflow or ForEachItem started; MAIN, only the others.
    child_filter: str | None = None
    # The reference's `scope`: USER, the executions of flows outside the system flow namespace; SYSTEM, of flows
    # in it (`SYSTEM_FLOW_NAMESPACE`); both or none, every one.
    scope: tuple[str, ...] | None = None


# The reference's system flow namespace (`kestra.system-flows.namespace`, default `system`): `scope` tells its
# executions (SYSTEM) from the users' (USER).
SYSTEM_FLOW_NAMESPACE = "system"
SCOPES = ("USER", "SYSTEM")


def time_range_start(time_range: str, now: datetime) -> datetime:
    """The start of the reference's `timeRange` (an ISO-8601 duration, its sign ignored) back from `now`;
    ValueError naming the duration when it is none or reaches before year 1."""
    try:
        delta: timedelta = abs(parse_duration(time_range))
        return now - delta
    except (ValueError, OverflowError) as exc:
        expected = "expected an ISO-8601 duration back from now such as PT1H or P30D"
        raise ValueError(f"{expected}, got {time_range!r}") from exc


@dataclass(frozen=True, kw_only=True)
class LogFilters:
    """A search of log lines across executions: `namespace` and those under it, `min_level` and the levels above
    it, `q` the words of the message (all of them), `start`/`end` bound the line's `timestamp` (inclusive)."""

    namespace: str | None = None
    flow_id: str | None = None
    execution_id: str | None = None
    task_id: str | None = None
    min_level: str | None = None
    q: str | None = None
    start: When | None = None
    end: When | None = None
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class Paging:
    size: int = DEFAULT_SIZE
    sort: str = DEFAULT_SORT
    search_after: Cursor | None = None
    offset: int = 0


F = TypeVar("F", bound=SearchFilters)


def with_fields(filters: F, paging: Paging, named: Mapping[str, Any]) -> tuple[F, Paging]:
    """`filters` and `paging` with the fields `named` set, each where it belongs (a shorthand for callers that
    pass them one by one); a name neither has is a TypeError."""
    page_names = {f.name for f in fields(Paging)}
    return (
        replace(filters, **{k: v for k, v in named.items() if k not in page_names}),
        replace(paging, **{k: v for k, v in named.items() if k in page_names}),
    )


def not_ended(filters: ExecutionFilters) -> ExecutionFilters | None:
    """The executions `filters` match that have not ended (None: its states are all final ones), for the
    deletions by query, which refuse those unless told to delete them too."""
    running = [s.value for s in StateType if not s.terminal]
    states = [s for s in (filters.state or running) if s in running]
    return replace(filters, state=states) if states else None
