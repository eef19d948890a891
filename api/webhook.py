"""`POST`/`GET`/`PUT /api/v1/executions/webhook/{namespace}/{flowId}/{key}`: a Webhook trigger starts an
execution of its flow, with `{{ trigger.body }}` (the body as JSON when it parses, else its text),
`{{ trigger.headers }}` and `{{ trigger.parameters }}` (the query string), each name with its list of values.

A wrong key, an unknown flow, a disabled flow and a disabled trigger (`disabled: true`, or disabled in its
state on `trigger-state` through `conveyor triggers disable`, the API or its `stopAfter`) are one and the same
404 (same body), so the answer tells a caller without the key nothing. The server's body limit
(`CONVEYOR_SERVER_MAX_REQUEST_BYTES`) applies. Credentials (`Authorization`, `Cookie`, ...) are left out of
`trigger.headers`: an execution's variables are indexed, a secret must not be.
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool

from conveyor.api.backends import Backends, backends
from conveyor.api.errors import ApiError, NotFound, error_responses
from conveyor.common.deployed import flow_key
from conveyor.common.errors import RenderError
from conveyor.common.flow import Flow
from conveyor.common.launch import new_execution
from conveyor.common.model import ExecutionTrigger
from conveyor.common.render import render_value
from conveyor.common.triggers.state import disabled_in, partition_of, trigger_key
from conveyor.common.triggers.webhook import Webhook

router = APIRouter(prefix="/api/v1", tags=["executions"])

# Never copied into `trigger.headers`: they carry credentials.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token", "x-csrf-token"}
)
NOT_FOUND = "no such webhook (unknown flow, wrong key, or disabled)"

_PATH = "/executions/webhook/{namespace}/{flowId}/{key}"
_RESPONSES = error_responses(404, 413, 422, 503, _404=NOT_FOUND)


async def _webhook(
    request: Request,
    namespace: Annotated[str, Path(max_length=250)],
    flow_id: Annotated[str, Path(alias="flowId", max_length=250)],
    key: Annotated[str, Path(max_length=256, description="the Webhook trigger's `key`")],
    api: Annotated[Backends, Depends(backends)],
) -> dict[str, Any]:
    """Starts an execution of the flow through its Webhook trigger whose `key` is this one; answers the new
    execution (its `id`, state CREATED)."""
    raw = await request.body()
    variables = {
        "body": parse_body(raw),
        "headers": _multi(request.headers.items(), skip=SECRET_HEADERS),
        "parameters": _multi(request.query_params.multi_items()),
    }
    body = await run_in_threadpool(_start, api, namespace, flow_id, key, variables)
    request.state.audit = {"namespace": namespace, "flowId": flow_id, "executionId": body["id"]}
    return body


for method in ("POST", "GET", "PUT"):
    router.add_api_route(
        _PATH,
        _webhook,
        methods=[method],
        summary=f"Start an execution through a Webhook trigger ({method})",
        responses=_RESPONSES,
        operation_id=f"webhook_{method.lower()}",
        name="webhook",
    )


def parse_body(raw: bytes) -> Any:
    """The body as JSON when it is JSON, else as text (undecodable bytes replaced); None when empty."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _multi(items: Any, skip: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in items:
        if name.lower() not in skip:
            out.setdefault(name, []).append(value)
    return out


def find_webhook(flow: Flow, key: str) -> Webhook | None:
    """The flow's enabled Webhook trigger with this key (compared in constant time), None if none."""
    if flow.disabled:
        return None
    for trigger in flow.triggers:
        if isinstance(trigger, Webhook) and not trigger.disabled and hmac.compare_digest(trigger.key, key):
            return trigger
    return None


def _disabled(api: Backends, namespace: str, flow_id: str, trigger: Webhook) -> bool:
    """Disabled in its state (`conveyor triggers disable`, the API, its `stopAfter`), read after catching up."""
    partition = partition_of(flow_key(namespace, flow_id), api.kafka.partitions)
    return disabled_in(api.trigger_states.get(trigger_key(namespace, flow_id, trigger.id), partition))


def _start(api: Backends, namespace: str, flow_id: str, key: str, variables: dict[str, Any]) -> dict[str, Any]:
    found = api.catalog.get(namespace, flow_id)
    trigger = find_webhook(found[1], key) if found is not None else None
    if found is None or trigger is None or _disabled(api, namespace, flow_id, trigger):
        raise NotFound(NOT_FOUND)
    flow = found[1]
    try:
        inputs = render_value(trigger.inputs, {"trigger": variables}) if trigger.inputs else {}
    except RenderError as exc:
        raise ApiError(422, f"trigger {trigger.id}: inputs: {exc}") from None
    created = new_execution(flow, inputs, labels=trigger.labels)  # InputError -> 422
    created.execution.trigger = ExecutionTrigger(id=trigger.id, type=trigger.canonical_type(), variables=variables)
    api.producer.send(api.topics.execution_events, created.execution_id, created.to_json())
    api.producer.flush(10.0)
    return created.execution.to_dict()
