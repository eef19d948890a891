"""Conditions on the execution that ended (a Flow trigger's `conditions`), under the reference's type names.

Supported: ExecutionNamespace, ExecutionFlow, ExecutionStatus and ExecutionLabels (with their older
`io.kestra.core.models.conditions.types.*Condition` aliases). Any other condition type is refused when the
flow loads, naming the supported ones."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Discriminator, Field, Tag, field_validator

from conveyor.common.base import Spec
from conveyor.common.labels import labels_map
from conveyor.common.state import StateType
from conveyor.common.tasks.base import ID_PATTERN, NAMESPACE_PATTERN

_NEW = "io.kestra.plugin.core.condition."
_OLD = "io.kestra.core.models.conditions.types."


class Comparison(StrEnum):
    EQUALS = "EQUALS"
    PREFIX = "PREFIX"
    SUFFIX = "SUFFIX"


class Condition(Spec):
    type_names: ClassVar[tuple[str, ...]] = ()
    type: str

    @classmethod
    def canonical_type(cls) -> str:
        return cls.type_names[0]


class ExecutionNamespace(Condition):
    """The ended execution's namespace equals (or starts/ends with) `namespace`."""

    type_names = (
        f"{_NEW}ExecutionNamespace",
        f"{_NEW}ExecutionNamespaceCondition",
        f"{_OLD}ExecutionNamespaceCondition",
    )
    namespace: str
    comparison: Comparison = Comparison.EQUALS
    # The reference's older spelling of `comparison: PREFIX`.
    prefix: bool = False


class ExecutionFlow(Condition):
    """The ended execution is of flow `namespace`.`flowId`."""

    type_names = (f"{_NEW}ExecutionFlow", f"{_NEW}ExecutionFlowCondition", f"{_OLD}ExecutionFlowCondition")
    namespace: str = Field(pattern=NAMESPACE_PATTERN)
    flow_id: str = Field(pattern=ID_PATTERN)


class ExecutionStatus(Condition):
    """The ended execution's state is in `in` and not in `notIn`."""

    type_names = (f"{_NEW}ExecutionStatus", f"{_NEW}ExecutionStatusCondition", f"{_OLD}ExecutionStatusCondition")
    in_: list[StateType] = Field(default=[], alias="in")
    not_in: list[StateType] = []


class ExecutionLabels(Condition):
    """The ended execution carries every one of `labels`."""

    type_names = (f"{_NEW}ExecutionLabels", f"{_NEW}ExecutionLabelsCondition", f"{_OLD}ExecutionLabelsCondition")
    labels: dict[str, str] = Field(min_length=1)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return labels_map(value)


CONDITIONS: tuple[type[Condition], ...] = (ExecutionNamespace, ExecutionFlow, ExecutionStatus, ExecutionLabels)
CONDITION_TYPES: dict[str, type[Condition]] = {name: cls for cls in CONDITIONS for name in cls.type_names}


def _discriminate(value: Any) -> str | None:
    if isinstance(value, Condition):
        return value.canonical_type()
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        cls = CONDITION_TYPES.get(value["type"])
        return cls.canonical_type() if cls else value["type"]
    return None


AnyCondition = Annotated[
    Annotated[ExecutionNamespace, Tag(ExecutionNamespace.canonical_type())]
    | Annotated[ExecutionFlow, Tag(ExecutionFlow.canonical_type())]
    | Annotated[ExecutionStatus, Tag(ExecutionStatus.canonical_type())]
    | Annotated[ExecutionLabels, Tag(ExecutionLabels.canonical_type())],
    Discriminator(_discriminate),
]
