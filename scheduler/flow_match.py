"""Does a Flow trigger fire for an ended execution? Pure functions of the trigger and the execution.

Supported, all of which must hold:
- `states`: the ended execution's state is one of them (default: every terminal state);
- `conditions`: ExecutionNamespace (EQUALS, PREFIX, SUFFIX; `prefix: true`), ExecutionFlow, ExecutionStatus
  (`in`, `notIn`), ExecutionLabels (every label present), ExecutionOutputs, Expression, and Not/Or over any
  of these, each evaluated by its `holds` against `check_of(ended, flow)`; one that cannot be evaluated (an
  expression that does not render) does not hold, logged;
- `preconditions.flows` with ONE flow: its namespace, flowId, states and labels; `preconditions.where`:
  each group's filters (NAMESPACE, FLOW_ID, STATE; EQUAL_TO, NOT_EQUAL_TO, IN, NOT_IN, STARTS_WITH,
  ENDS_WITH, CONTAINS) joined by its AND/OR operand. With several flows the conditions are met across
  executions within a time window: `preconditions.py`, never `matches` (which is False for them).
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from conveyor.common.flow import Flow
from conveyor.common.model import Execution
from conveyor.common.triggers.condition_base import Check, ConditionError
from conveyor.common.triggers.flow import Filter, FilterField, FilterType, FlowTrigger, Operand, UpstreamFlow, Where

log = logging.getLogger(__name__)
ZONE = ZoneInfo("UTC")


def matches(trigger: FlowTrigger, ended: Execution, flow: Flow | None = None) -> bool:
    """Whether `trigger` (of `flow`, the triggered one) starts its flow for this ended execution."""
    if trigger.disabled or ended.state.current not in trigger.states:
        return False
    if not conditions_hold(trigger, ended, flow):
        return False
    pre = trigger.preconditions
    if pre is None:
        return True
    if len(pre.flows) > 1:
        return False  # waiting for several flows: across executions, `preconditions.py`
    if pre.flows and not upstream_matches(pre.flows[0], ended):
        return False
    return all(where_holds(group, ended) for group in pre.where)


def conditions_hold(trigger: FlowTrigger, ended: Execution, flow: Flow | None = None) -> bool:
    """Every one of the trigger's `conditions` holds for `ended`; one that cannot be evaluated does not."""
    if not trigger.conditions:
        return True
    check = check_of(ended, flow)
    try:
        return all(condition.holds(check) for condition in trigger.conditions)
    except ConditionError as exc:
        owner = f"{flow.namespace}.{flow.id} " if flow is not None else ""
        log.error("Flow trigger %s%s: not started for %s, its conditions cannot be evaluated: %s",
                  owner, trigger.id, ended.id, exc)  # fmt: skip
        return False


def check_of(ended: Execution, flow: Flow | None = None) -> Check:
    """What a Flow trigger's conditions see of an ended execution: the execution itself and, for their
    expressions, `trigger` (as the execution it would start sees it: executionId, namespace, flowId, state,
    outputs), `execution` (id, namespace, flowId, state, startDate, endDate, originalId), `inputs`, `labels`
    (a map) of the ended execution, and `flow` (id, namespace, revision) of the triggered one (as the
    reference's condition context)."""
    state = ended.state
    context: dict[str, Any] = {
        "trigger": trigger_variables(ended),
        "execution": {
            "id": ended.id,
            "namespace": ended.namespace,
            "flowId": ended.flow_id,
            "state": state.current.value,
            "startDate": _iso(state.start_date),
            "endDate": _iso(state.end_date),
            "originalId": ended.original_id or ended.id,
        },
        "inputs": ended.inputs or {},
        "labels": {label.key: label.value for label in ended.labels},
        "flow": (
            {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision}
            if flow is not None
            else {"id": ended.flow_id, "namespace": ended.namespace, "revision": ended.flow_revision}
        ),
    }
    return Check(context, ZONE, ended)


def _iso(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def labels_hold(wanted: dict[str, str], ended: Execution) -> bool:
    have = {label.key: label.value for label in ended.labels}
    return all(have.get(key) == value for key, value in wanted.items())


def upstream_matches(upstream: UpstreamFlow, ended: Execution) -> bool:
    return (
        (upstream.namespace, upstream.flow_id) == (ended.namespace, ended.flow_id)
        and (not upstream.states or ended.state.current in upstream.states)
        and labels_hold(upstream.labels, ended)
    )


def where_holds(group: Where, ended: Execution) -> bool:
    results = (filter_holds(f, ended) for f in group.filters)
    return any(results) if group.operand == Operand.OR else all(results)


def filter_holds(rule: Filter, ended: Execution) -> bool:
    value = _field(rule.field, ended)
    wanted = rule.value or ""
    checks = {
        FilterType.EQUAL_TO: lambda: value == wanted,
        FilterType.NOT_EQUAL_TO: lambda: value != wanted,
        FilterType.IN: lambda: value in rule.values,
        FilterType.NOT_IN: lambda: value not in rule.values,
        FilterType.STARTS_WITH: lambda: value.startswith(wanted),
        FilterType.ENDS_WITH: lambda: value.endswith(wanted),
        FilterType.CONTAINS: lambda: wanted in value,
    }
    return checks[rule.type]()


def _field(name: FilterField, ended: Execution) -> str:
    if name == FilterField.NAMESPACE:
        return ended.namespace
    if name == FilterField.FLOW_ID:
        return ended.flow_id
    return ended.state.current.value


def trigger_variables(ended: Execution) -> dict[str, Any]:
    """`{{ trigger.* }}` of an execution a Flow trigger started: the ended execution's id, namespace, flow
    id, state and flow outputs."""
    return {
        "executionId": ended.id,
        "namespace": ended.namespace,
        "flowId": ended.flow_id,
        "state": ended.state.current.value,
        "outputs": ended.outputs or {},
    }
