"""`GET /api/v1/executions/search`: the indexed executions, filtered as `conveyor executions` filters them
(namespace and those under it, flow, states, the trigger that started them), newest first, paged.

Registered before `executions`, whose `GET /executions/{executionId}` would take `search` for an id. Like the
task-run search it reads only what the caller may read: the readable namespace prefixes go into the query."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import error_responses
from conveyor.api.identity import authenticated, readable
from conveyor.api.params import ExecutionPageParams
from conveyor.common.state import StateType
from conveyor.indexer import queries
from conveyor.indexer.filters import ExecutionFilters

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])


class ExecutionFilterParams(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)

    namespace: str | None = Field(default=None, max_length=250, description="namespace and the namespaces under it")
    flow_id: str | None = Field(default=None, max_length=250)
    state: list[StateType] | None = Field(default=None, description="current state (repeatable: any of them)")
    trigger_id: str | None = Field(
        default=None, max_length=250, description="executions started by the trigger of this id"
    )

    def filters(self) -> ExecutionFilters:
        return ExecutionFilters(
            namespace=self.namespace or None,
            flow_id=self.flow_id or None,
            state=[s.value for s in self.state] if self.state else None,
            trigger_id=self.trigger_id or None,
        )


class ExecutionPage(BaseModel):
    results: list[dict[str, Any]] = Field(description="Execution documents (without their task runs)")
    total: int
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
    found = queries.search_executions(api.client, api.prefix, filters, paging.paging())
    return ExecutionPage(results=found.results, total=found.total, next=found.next)
