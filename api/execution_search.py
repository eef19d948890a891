"""`GET /api/v1/executions/search`: the indexed executions, filtered as `conveyor executions` filters them
(namespace and those under it, flow, states, the trigger that started them) and as the Executions page does
(labels, a start-date window, a substring of the id, namespace or flow), newest first, paged.

Registered before `executions`, whose `GET /executions/{executionId}` would take `search` for an id. Like the
task-run search it reads only what the caller may read: the readable namespace prefixes go into the query."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import BadParameter, error_responses
from conveyor.api.identity import authenticated, readable
from conveyor.api.params import (
    DATE_HELP,
    DATE_SCHEMA,
    LABELS_FIELD,
    ExecutionPageParams,
    check_window,
    label_pairs,
    parse_when,
)
from conveyor.common.clock import utcnow
from conveyor.common.state import StateType
from conveyor.indexer import queries
from conveyor.indexer.filters import SYSTEM_FLOW_NAMESPACE, ExecutionFilters, time_range_start

# key:value, the key not blank (the value may be empty)

# An ISO-8601 duration (the reference's `Duration`), bounded so that now minus it stays a date.
_SECONDS = r"[0-9]{1,6}(?:[.][0-9]{1,9})?[Ss]"
_TIME = rf"(?:[0-9]{{1,6}}[Hh](?:[0-9]{{1,6}}[Mm])?(?:{_SECONDS})?|[0-9]{{1,6}}[Mm](?:{_SECONDS})?|{_SECONDS})"
TIME_RANGE_PATTERN = rf"^-?[Pp](?:[0-9]{{1,5}}[Dd](?:[Tt]{_TIME})?|[Tt]{_TIME})$"

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])


class ExecutionFilterParams(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)

    namespace: str | None = Field(default=None, max_length=250, description="namespace and the namespaces under it")
    flow_id: str | None = Field(default=None, max_length=250)
    state: list[StateType] | None = Field(default=None, description="current state (repeatable: any of them)")
    trigger_id: str | None = Field(
        default=None, max_length=250, description="executions started by the trigger of this id"
    )
    q: str | None = Field(default=None, max_length=200, description="substring of the id, namespace or flow")
    labels: LABELS_FIELD = Field(
        default=None, description="key:value, every one on the execution (repeatable)", max_length=20
    )
    trigger_execution_id: str | None = Field(
        default=None, max_length=250, description="the children (Subflow, ForEachItem) of this execution"
    )
    start_date: str | None = Field(
        default=None, description=f"started at or after ({DATE_HELP})", json_schema_extra=DATE_SCHEMA
    )
    end_date: str | None = Field(
        default=None, description=f"started at or before ({DATE_HELP})", json_schema_extra=DATE_SCHEMA
    )
    child_filter: Literal["CHILD", "MAIN"] | None = Field(
        default=None, description="CHILD: only executions a Subflow or ForEachItem started; MAIN: only the others"
    )
    scope: list[Literal["USER", "SYSTEM"]] | None = Field(
        default=None,
        description=f"USER: executions of flows outside the system flow namespace `{SYSTEM_FLOW_NAMESPACE}`; "
        "SYSTEM: of flows in it (repeatable; both: every one), as the reference",
        max_length=2,
    )
    time_range: str | None = Field(
        default=None,
        max_length=50,
        pattern=TIME_RANGE_PATTERN,
        description="started within this ISO-8601 duration back from now (PT1H, P30D); with startDate, the later",
    )

    def filters(self) -> ExecutionFilters:
        """The checked filters: a bad label, date or duration is answered 400/422 by name."""
        start = parse_when(self.start_date, "startDate")
        end = parse_when(self.end_date, "endDate", end=True)
        check_window(start, end)
        if self.time_range is not None and self.time_range.strip():
            try:  # an endDate before it: a window that matches nothing, as the reference
                since = time_range_start(self.time_range, utcnow())
            except ValueError as exc:
                raise BadParameter("timeRange", str(exc), status=422) from None
            start = since if start is None else max(start, since)  # both: the later (the reference refuses both)
        return ExecutionFilters(
            namespace=self.namespace or None,
            flow_id=self.flow_id or None,
            state=[s.value for s in self.state] if self.state else None,
            trigger_id=self.trigger_id or None,
            q=self.q or None,
            labels=label_pairs(self.labels),
            trigger_execution_id=self.trigger_execution_id or None,
            start=start,
            end=end,
            child_filter=self.child_filter,
            scope=tuple(self.scope) if self.scope else None,
        )


class ExecutionPage(BaseModel):
    results: list[dict[str, Any]] = Field(description="Execution documents (without their task runs)")
    total: int = Field(description=f"how many match (counted up to {queries.LIST_TOTAL_LIMIT:,} unless one parent's)")
    total_exact: bool = Field(
        alias="totalExact", description="false when more executions match than `total` (the count stopped there)"
    )
    next: str | None = Field(description="cursor of the next page (pass it as `after`), null on the last page")


@router.get(
    "/executions/search",
    response_model=ExecutionPage,
    summary="Search executions",
    responses=error_responses(400, 401, 403, 422, 429, 503),
)
def search_executions(
    request: Request,
    params: Annotated[ExecutionFilterParams, Query()],
    api: Annotated[Backends, Depends(backends)],
    paging: Annotated[ExecutionPageParams, Query()],
) -> ExecutionPage:
    filters = replace(params.filters(), allowed=readable(request))
    # One parent's children are counted in full (the Execution page shows how many).
    limit = None if filters.trigger_execution_id else queries.LIST_TOTAL_LIMIT
    found = queries.search_executions(api.client, api.prefix, filters, paging.paging(), total_limit=limit)
    return ExecutionPage(results=found.results, total=found.total, totalExact=found.exact, next=found.next)
