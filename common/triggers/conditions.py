"""Conditions on the execution that ended (a Flow trigger's `conditions`), under the reference's type names,
and the union of every condition a trigger's `conditions` may hold (these, the Schedule's date conditions
of `schedule_conditions`/`public_holiday`, and the logical ones of `logical`; each trigger type refuses the
other's, inside a Not or an Or too).

Supported: ExecutionNamespace, ExecutionFlow, ExecutionStatus, ExecutionLabels and ExecutionOutputs (with
their older `io.kestra.core.models.conditions.types.*Condition` aliases). Any other condition type is
refused when the flow loads, naming the supported ones."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from conveyor.common.labels import labels_map
from conveyor.common.state import StateType
from conveyor.common.tasks.base import ID_PATTERN, NAMESPACE_PATTERN
from conveyor.common.triggers.condition_base import (
    Check,
    Condition,
    ExecutionCondition,
    expression_holds,
    names,
    tagged_union,
)
from conveyor.common.triggers.logical import LOGICAL_CONDITIONS, Not, Or
from conveyor.common.triggers.public_holiday import PublicHoliday
from conveyor.common.triggers.schedule_conditions import DATE_CONDITIONS


class Comparison(StrEnum):
    EQUALS = "EQUALS"
    PREFIX = "PREFIX"
    SUFFIX = "SUFFIX"


class ExecutionNamespace(ExecutionCondition):
    """The ended execution's namespace equals (or starts/ends with) `namespace`."""

    type_names = names("ExecutionNamespace")
    namespace: str
    comparison: Comparison = Comparison.EQUALS
    # The reference's older spelling of `comparison: PREFIX`.
    prefix: bool = False

    def holds(self, check: Check) -> bool:
        namespace = check.execution(self.type).namespace
        comparison = Comparison.PREFIX if self.prefix else self.comparison
        if comparison == Comparison.PREFIX:
            return namespace.startswith(self.namespace)
        if comparison == Comparison.SUFFIX:
            return namespace.endswith(self.namespace)
        return namespace == self.namespace


class ExecutionFlow(ExecutionCondition):
    """The ended execution is of flow `namespace`.`flowId`."""

    type_names = names("ExecutionFlow")
    namespace: str = Field(pattern=NAMESPACE_PATTERN)
    flow_id: str = Field(pattern=ID_PATTERN)

    def holds(self, check: Check) -> bool:
        ended = check.execution(self.type)
        return (self.namespace, self.flow_id) == (ended.namespace, ended.flow_id)


class ExecutionStatus(ExecutionCondition):
    """The ended execution's state is in `in` and not in `notIn`."""

    type_names = names("ExecutionStatus")
    in_: list[StateType] = Field(default=[], alias="in")
    not_in: list[StateType] = []

    def holds(self, check: Check) -> bool:
        state = check.execution(self.type).state.current
        return (not self.in_ or state in self.in_) and state not in self.not_in


class ExecutionLabels(ExecutionCondition):
    """The ended execution carries every one of `labels`."""

    type_names = names("ExecutionLabels")
    labels: dict[str, str] = Field(min_length=1)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return labels_map(value)

    def holds(self, check: Check) -> bool:
        have = {label.key: label.value for label in check.execution(self.type).labels}
        return all(have.get(key) == value for key, value in self.labels.items())


class ExecutionOutputs(ExecutionCondition):
    """The ended execution has flow outputs and `expression` (with them as `{{ trigger.outputs }}`) renders to
    something other than blank or `false`."""

    type_names = names("ExecutionOutputs")
    expression: str = Field(min_length=1)

    def holds(self, check: Check) -> bool:
        if not check.execution(self.type).outputs:
            return False  # as the reference: no outputs, no evaluation
        return expression_holds(check.text(self.expression, "expression"))


EXECUTION_CONDITIONS: tuple[type[Condition], ...] = (
    ExecutionNamespace,
    ExecutionFlow,
    ExecutionStatus,
    ExecutionLabels,
    ExecutionOutputs,
)
ALL_CONDITIONS: tuple[type[Condition], ...] = (
    *EXECUTION_CONDITIONS,
    *DATE_CONDITIONS,
    PublicHoliday,
    *LOGICAL_CONDITIONS,
)
CONDITION_TYPES: dict[str, type[Condition]] = {name: cls for cls in ALL_CONDITIONS for name in cls.type_names}


if TYPE_CHECKING:
    AnyCondition = Condition
else:
    AnyCondition = tagged_union(ALL_CONDITIONS)
Not.model_rebuild(_types_namespace={"AnyCondition": AnyCondition})
Or.model_rebuild(_types_namespace={"AnyCondition": AnyCondition})
