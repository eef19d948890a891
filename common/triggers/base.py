"""The properties every trigger shares, whatever its type."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from conveyor.common.base import Spec
from conveyor.common.labels import labels_map
from conveyor.common.state import StateType
from conveyor.common.tasks.base import ID_PATTERN
from conveyor.common.triggers.conditions import AnyCondition


class Trigger(Spec):
    # The reference's names for this trigger type: canonical first, then aliases that still load.
    type_names: ClassVar[tuple[str, ...]] = ()

    id: str = Field(pattern=ID_PATTERN)
    type: str
    description: str | None = None
    disabled: bool = False
    # Inputs of the executions this trigger starts (the flow's declared inputs, by id).
    inputs: dict[str, Any] = {}
    # Labels added to the executions this trigger starts.
    labels: dict[str, str] = {}
    # The trigger disables itself once an execution it started ends in one of these states.
    stop_after: list[StateType] = []
    conditions: list[AnyCondition] = []

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return labels_map(value)

    @classmethod
    def canonical_type(cls) -> str:
        return cls.type_names[0]
