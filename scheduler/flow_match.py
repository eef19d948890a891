"""Does a Flow trigger fire for an ended execution? Pure functions of the trigger and the execution.

Supported, all of which must hold:
- `states`: the ended execution's state is one of them (default: every terminal state);
- `conditions`: ExecutionNamespace (EQUALS, PREFIX, SUFFIX; `prefix: true`), ExecutionFlow, ExecutionStatus
  (`in`, `notIn`), ExecutionLabels (every label present);
- `preconditions.flows` with ONE flow: its namespace, flowId, states and labels; `preconditions.where`:
  each group's filters (NAMESPACE, FLOW_ID, STATE; EQUAL_TO, NOT_EQUAL_TO, IN, NOT_IN, STARTS_WITH,
  ENDS_WITH, CONTAINS) joined by its AND/OR operand. With several flows the conditions are met across
  executions within a time window: `preconditions.py`, never `matches` (which is False for them).
"""

from __future__ import annotations

from typing import Any

from conveyor.common.model import Execution
from conveyor.common.triggers.condition_base import Condition
from conveyor.common.triggers.conditions import (
    Comparison,
    ExecutionFlow,
    ExecutionLabels,
    ExecutionNamespace,
    ExecutionStatus,
)
from conveyor.common.triggers.flow import Filter, FilterField, FilterType, FlowTrigger, Operand, UpstreamFlow, Where


def matches(trigger: FlowTrigger, ended: Execution) -> bool:
    """Whether `trigger` starts its flow for this ended execution."""
    if trigger.disabled or ended.state.current not in trigger.states:
        return False
    if not all(condition_holds(c, ended) for c in trigger.conditions):
        return False
    pre = trigger.preconditions
    if pre is None:
        return True
    if len(pre.flows) > 1:
        return False  # waiting for several flows: across executions, `preconditions.py`
    if pre.flows and not upstream_matches(pre.flows[0], ended):
        return False
    return all(where_holds(group, ended) for group in pre.where)


def condition_holds(condition: Condition, ended: Execution) -> bool:
    if isinstance(condition, ExecutionNamespace):
        return _namespace_holds(condition, ended.namespace)
    if isinstance(condition, ExecutionFlow):
        return (condition.namespace, condition.flow_id) == (ended.namespace, ended.flow_id)
    if isinstance(condition, ExecutionStatus):
        state = ended.state.current
        return (not condition.in_ or state in condition.in_) and state not in condition.not_in
    if isinstance(condition, ExecutionLabels):
        return labels_hold(condition.labels, ended)
    return False  # a condition type this module does not know never holds


def _namespace_holds(condition: ExecutionNamespace, namespace: str) -> bool:
    comparison = Comparison.PREFIX if condition.prefix else condition.comparison
    if comparison == Comparison.PREFIX:
        return namespace.startswith(condition.namespace)
    if comparison == Comparison.SUFFIX:
        return namespace.endswith(condition.namespace)
    return namespace == condition.namespace


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
