"""Conditions on the execution that ended (a Flow trigger's `conditions`), under the reference's type names,
and the union of every condition a trigger's `conditions` may hold (these and the Schedule's,
`schedule_conditions`; each trigger type refuses the other's).

Supported: ExecutionNamespace, ExecutionFlow, ExecutionStatus and ExecutionLabels (with their older
`io.kestra.core.models.conditions.types.*Condition` aliases). Any other condition type is refused when the
flow loads, naming the supported ones."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from conveyor.common.labels import labels_map
from conveyor.common.state import StateType
from conveyor.common.tasks.base import ID_PATTERN, NAMESPACE_PATTERN
from conveyor.common.triggers.condition_base import Condition, names, tagged_union
from conveyor.common.triggers.schedule_conditions import SCHEDULE_CONDITION_TYPES, SCHEDULE_CONDITIONS


class Comparison(StrEnum):
    EQUALS = "EQUALS"
    PREFIX = "PREFIX"
    SUFFIX = "SUFFIX"


class ExecutionNamespace(Condition):
    """The ended execution's namespace equals (or starts/ends with) `namespace`."""

    type_names = names("ExecutionNamespace")
    namespace: str
    comparison: Comparison = Comparison.EQUALS
    # The reference's older spelling of `comparison: PREFIX`.
    prefix: bool = False


class ExecutionFlow(Condition):
    """The ended execution is of flow `namespace`.`flowId`."""

    type_names = names("ExecutionFlow")
    namespace: str = Field(pattern=NAMESPACE_PATTERN)
    flow_id: str = Field(pattern=ID_PATTERN)


class ExecutionStatus(Condition):
    """The ended execution's state is in `in` and not in `notIn`."""

    type_names = names("ExecutionStatus")
    in_: list[StateType] = Field(default=[], alias="in")
    not_in: list[StateType] = []


class ExecutionLabels(Condition):
    """The ended execution carries every one of `labels`."""

    type_names = names("ExecutionLabels")
    labels: dict[str, str] = Field(min_length=1)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return labels_map(value)


EXECUTION_CONDITIONS: tuple[type[Condition], ...] = (
    ExecutionNamespace,
    ExecutionFlow,
    ExecutionStatus,
    ExecutionLabels,
)
CONDITION_TYPES: dict[str, type[Condition]] = {
    **{name: cls for cls in EXECUTION_CONDITIONS for name in cls.type_names},
    **SCHEDULE_CONDITION_TYPES,
}


if TYPE_CHECKING:
    AnyCondition = Condition
else:
    AnyCondition = tagged_union((*EXECUTION_CONDITIONS, *SCHEDULE_CONDITIONS))
