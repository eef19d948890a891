"""The flow definition users write in YAML: `id`, `namespace`, `tasks` plus inputs, variables, retry,
labels, error branches and flow outputs. Load one from a file with `conveyor.common.loader`."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from conveyor.common.base import Spec
from conveyor.common.labels import labels_map
from conveyor.common.retry import Retry
from conveyor.common.tasks.base import ID_PATTERN, NAMESPACE_PATTERN, FlowableTask, Task

if TYPE_CHECKING:
    from conveyor.common.triggers.base import Trigger

    AnyTask = Task
    AnyTrigger = Trigger


__all__ = ["NAMESPACE_PATTERN", "Flow", "Input", "InputType", "Output"]


class InputType(StrEnum):
    STRING = "STRING"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    JSON = "JSON"


class Input(Spec):
    id: str = Field(pattern=ID_PATTERN)
    type: InputType = InputType.STRING
    description: str | None = None
    required: bool = True
    defaults: Any = None


class Output(Spec):
    id: str = Field(pattern=ID_PATTERN)
    type: InputType = InputType.STRING
    value: Any
    description: str | None = None


class Flow(Spec):
    id: str = Field(pattern=ID_PATTERN)
    namespace: str = Field(pattern=NAMESPACE_PATTERN)
    revision: int = 1
    description: str | None = None
    labels: dict[str, str] = {}
    inputs: list[Input] = []
    variables: dict[str, Any] = {}
    tasks: list[AnyTask] = Field(min_length=1)
    errors: list[AnyTask] = []
    outputs: list[Output] = []
    retry: Retry | None = None
    disabled: bool = False
    # Validated against the registered trigger types (`conveyor.common.triggers.registry`).
    triggers: list[AnyTrigger] = []
    # Accepted so the reference's flows load; Conveyor does not act on them yet.
    plugin_defaults: list[Any] = []
    task_defaults: list[Any] = []

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        # The reference accepts labels both as a map and as a list of {key, value}.
        return labels_map(value)

    def find_trigger(self, trigger_id: str) -> Trigger:
        for trigger in self.triggers:
            if trigger.id == trigger_id:
                return trigger
        raise KeyError(trigger_id)

    def all_tasks(self) -> Iterator[Task]:
        """Every task of the flow, depth first, error branches included."""
        yield from _walk([*self.tasks, *self.errors])

    def find_task(self, task_id: str) -> Task:
        for task in self.all_tasks():
            if task.id == task_id:
                return task
        raise KeyError(task_id)


def _walk(tasks: list[Task]) -> Iterator[Task]:
    for task in tasks:
        yield task
        if isinstance(task, FlowableTask):
            for children in task.child_lists():
                yield from _walk(children)
            yield from _walk(task.error_tasks())
