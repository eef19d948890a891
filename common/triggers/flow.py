"""The Flow trigger: starts this flow when executions of other flows end.

Two ways to say which ones, as the reference has them:
- `conditions`: every one must hold for the ended execution (ExecutionNamespace, ExecutionFlow,
  ExecutionStatus, ExecutionLabels, ExecutionOutputs; Expression, Not, Or over them; see `conditions`);
- `preconditions`: `{flows: [{namespace, flowId, states, labels}], where: [{id, operand, filters}],
  timeWindow, resetOnSuccess}`. With one flow (or none): the ended execution is that flow's, in one of its
  states, and passes each `where` group. With several flows: every listed flow and every `where` group must
  have been met by some ended execution within the same `timeWindow` (`DURATION_WINDOW`, the default, 24 h
  windows from midnight UTC shifted by `windowAdvance`; or `SLIDING_WINDOW`, the last `window`), then the
  trigger fires once and, with `resetOnSuccess` (default), starts over (`scheduler/preconditions.py`).
  Supported filter fields: NAMESPACE, FLOW_ID, STATE; filter types: EQUAL_TO, NOT_EQUAL_TO, IN, NOT_IN,
  STARTS_WITH, ENDS_WITH, CONTAINS. `DAILY_TIME_DEADLINE` and `DAILY_TIME_WINDOW` are refused.
`states` (default: the terminal states) limits the ended states considered at all.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from conveyor.common.base import Spec
from conveyor.common.clock import Duration
from conveyor.common.labels import labels_map
from conveyor.common.state import TERMINAL, StateType
from conveyor.common.tasks.base import ID_PATTERN, NAMESPACE_PATTERN
from conveyor.common.triggers.base import Trigger
from conveyor.common.triggers.condition_base import leaves
from conveyor.common.triggers.schedule_conditions import ScheduleCondition

# What `states` defaults to: an execution that ended, however.
DEFAULT_STATES: list[StateType] = sorted(TERMINAL)


class UpstreamFlow(Spec):
    """One flow the preconditions wait for."""

    namespace: str = Field(pattern=NAMESPACE_PATTERN)
    flow_id: str = Field(pattern=ID_PATTERN)
    states: list[StateType] = [StateType.SUCCESS]
    labels: dict[str, str] = {}

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return labels_map(value)


class FilterField(StrEnum):
    NAMESPACE = "NAMESPACE"
    FLOW_ID = "FLOW_ID"
    STATE = "STATE"


class FilterType(StrEnum):
    EQUAL_TO = "EQUAL_TO"
    NOT_EQUAL_TO = "NOT_EQUAL_TO"
    IN = "IN"
    NOT_IN = "NOT_IN"
    STARTS_WITH = "STARTS_WITH"
    ENDS_WITH = "ENDS_WITH"
    CONTAINS = "CONTAINS"


class Operand(StrEnum):
    AND = "AND"
    OR = "OR"


class Filter(Spec):
    field: FilterField
    type: FilterType
    value: str | None = None
    values: list[str] = []

    @model_validator(mode="after")
    def _operand(self) -> Filter:
        many = self.type in (FilterType.IN, FilterType.NOT_IN)
        if many and not self.values:
            raise ValueError(f"filter type {self.type.value} needs `values`")
        if not many and self.value is None:
            raise ValueError(f"filter type {self.type.value} needs `value`")
        return self


class Where(Spec):
    id: str = Field(pattern=ID_PATTERN)
    operand: Operand = Operand.AND
    filters: list[Filter] = Field(min_length=1)


class WindowType(StrEnum):
    DURATION_WINDOW = "DURATION_WINDOW"
    SLIDING_WINDOW = "SLIDING_WINDOW"


class TimeWindow(Spec):
    """Within what time every precondition must be met (several flows). The reference's two daily types
    (`DAILY_TIME_DEADLINE`, `DAILY_TIME_WINDOW`) are not supported: refused when the flow loads."""

    type: WindowType = WindowType.DURATION_WINDOW
    window: Duration = timedelta(days=1)
    # DURATION_WINDOW only: the windows start at midnight UTC shifted by this much.
    window_advance: Duration | None = None

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("the window must be a positive duration, e.g. PT1H")
        return value


class Preconditions(Spec):
    id: str | None = None
    flows: list[UpstreamFlow] = []
    where: list[Where] = []
    time_window: TimeWindow = Field(default_factory=TimeWindow)
    # After a firing, the upstream flows must all end again before the next one (the reference's default).
    reset_on_success: bool = True


class FlowTrigger(Trigger):
    type_names = ("io.kestra.plugin.core.trigger.Flow", "io.kestra.core.models.triggers.types.Flow")

    states: list[StateType] = Field(default_factory=lambda: list(DEFAULT_STATES))
    preconditions: Preconditions | None = None

    @model_validator(mode="after")
    def _execution_conditions(self) -> FlowTrigger:
        for condition in leaves(self.conditions):
            if isinstance(condition, ScheduleCondition):
                raise ValueError(f"{condition.type} is a condition on a Schedule's date, not on an ended execution")
        return self

    @property
    def waits(self) -> bool:
        """Whether it waits for several flows (state across executions, kept by the scheduler)."""
        return self.preconditions is not None and len(self.preconditions.flows) > 1
