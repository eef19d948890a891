"""`POST /api/v1/executions/{executionId}/kill` and `.../restart`: `conveyor kill|restart` over HTTP.

Both go through `common.control`, as the CLI does: the execution is looked up on the `executions` topic (not
Elasticsearch, which may be behind), refused with 404 (unknown) or 409 (its state does not allow it), else
the request goes to `execution-events` and the answer is 202: the request is delivered, the executor and
workers carry it out afterwards. Kafka unreachable is a 503 (`api.errors`).

These routes must be registered before `POST /api/v1/executions/{namespace}/{flowId}` (start an execution),
whose pattern matches their paths too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import Conflict, NotFound, error_responses
from conveyor.api.identity import authenticated, may_read, require
from conveyor.common import control
from conveyor.common.auth import Role
from conveyor.common.base import Model
from conveyor.common.control import Action, Refused, UnknownExecution
from conveyor.common.model import Execution
from conveyor.common.state import StateType

router = APIRouter(prefix="/api/v1", tags=["executions"], dependencies=[Depends(authenticated)])


class Requested(Model):
    """The request was delivered to the executor; follow the execution with `GET /api/v1/executions/{id}`."""

    execution_id: str
    namespace: str
    flow_id: str
    requested: Action
    state: StateType = Field(description="the state the execution was in when the request was sent")
    revision: int = Field(description="the revision of the execution's snapshot the request was made on")


_ERRORS = error_responses(
    401,
    403,
    404,
    409,
    422,
    429,
    503,
    _403="the runner role on the execution's namespace is required",
    _404="no execution with this id (or not yours to read)",
    _503="Kafka unreachable",
)

_ROUTES = {
    Action.KILL: (
        "Kill a running execution",
        "The execution goes KILLING, its task runs not started yet become KILLED, workers stop the running "
        "attempts (a Sleep is interrupted, processes are killed) and report them KILLED; if no worker answers "
        "within 20 s the executor ends the kill itself. 409 when the execution has already ended.",
    ),
    Action.RESTART: (
        "Restart a FAILED or KILLED execution",
        "The execution goes RESTARTED then RUNNING: its failed or killed task runs get a new attempt (the old "
        "ones are kept), task runs that succeeded are kept, and the flow goes on from there. 409 when the "
        "execution is not FAILED or KILLED (it is still running, or it did not fail).",
    ),
}


# How long a kill request waits for the executor to apply it (or to say the execution ended first).
KILL_WAIT = 5.0


def _endpoint(action: Action) -> Callable[..., Requested]:
    def endpoint(
        request: Request,
        execution_id: Annotated[str, Path(alias="executionId", max_length=250)],
        api: Annotated[Backends, Depends(backends)],
    ) -> Requested:
        def allowed(execution: Execution) -> None:  # unreadable: as unknown; readable: the runner role
            request.state.audit = {"namespace": execution.namespace, "flowId": execution.flow_id}
            if not may_read(request, execution.namespace):
                raise control.unknown(api.kafka, execution_id)
            require(request, Role.RUNNER, execution.namespace)

        try:
            found = control.request(api.kafka, api.producer, action, execution_id, allowed)
            if action == Action.KILL:  # a kill that came too late is answered as such, never dropped silently
                control.check_kill(found, control.outcome(api.kafka, found, timeout=KILL_WAIT))
        except UnknownExecution as exc:
            raise NotFound(str(exc)) from exc
        except Refused as exc:
            raise Conflict(str(exc)) from exc
        execution = found.execution
        return Requested(
            execution_id=execution.id,
            namespace=execution.namespace,
            flow_id=execution.flow_id,
            requested=action,
            state=execution.state.current,
            revision=execution.revision,
        )

    return endpoint


for _action, (_summary, _description) in _ROUTES.items():
    router.add_api_route(
        f"/executions/{{executionId}}/{_action}",
        _endpoint(_action),
        methods=["POST"],
        status_code=202,
        response_description="the request is delivered; the executor carries it out next",
        response_model=Requested,
        summary=_summary,
        description=_description,
        responses=_ERRORS,
        name=f"{_action}_execution",
    )
