"""The flow definition users write in YAML: `id`, `namespace`, `tasks` plus inputs, variables, retry,
labels, error branches and flow outputs. Load one from a file with `conveyor.common.loader`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from conveyor.common.base import Spec
from conveyor.common.concurrency import Concurrency
from conveyor.common.dotted import nest
from conveyor.common.input_spec import Input, Output
from conveyor.common.labels import labels_map
from conveyor.common.retry import Retry
from conveyor.common.tasks.base import ID_PATTERN, NAMESPACE_PATTERN, FlowableTask, Task

if TYPE_CHECKING:
    from conveyor.common.triggers.base import Trigger

    AnyTask = Task
    AnyTrigger = Trigger


__all__ = ["NAMESPACE_PATTERN", "Flow", "Input", "Output"]


class PluginDefault(Spec):
    """One entry of `pluginDefaults` (applied by `conveyor.common.plugin_defaults`)."""

    type: str = Field(min_length=1)
    values: dict[str, Any] = {}
    forced: bool = False


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
    # Run after `tasks` and `errors` whatever the outcome; `afterExecution` once the state is final.
    finally_: list[AnyTask] = Field(default=[], alias="finally")
    after_execution: list[AnyTask] = []
    outputs: list[Output] = []
    retry: Retry | None = None
    disabled: bool = False
    # At most `limit` executions at once; the others QUEUED, CANCELLED or FAILED (`common.concurrency`).
    concurrency: Concurrency | None = None
    # Validated against the registered trigger types (`conveyor.common.triggers.registry`).
    triggers: list[AnyTrigger] = []
    # Applied to the YAML before validation (`conveyor.common.plugin_defaults`); kept as written.
    plugin_defaults: list[PluginDefault] = []
    task_defaults: list[PluginDefault] = []

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

    @field_validator("inputs", "outputs")
    @classmethod
    def _unique_ids(cls, value: list[Input] | list[Output], info: ValidationInfo) -> list[Input] | list[Output]:
        counts = Counter(i.id for i in value)
        duplicates = [name for name, n in counts.items() if n > 1]
        if duplicates:
            what = "input" if info.field_name == "inputs" else "output"
            raise PydanticCustomError("duplicate_id", f"duplicate {what} id [{', '.join(duplicates)}]")
        if info.field_name == "inputs":
            try:
                nest({i.id: None for i in value})  # dotted ids nest: `a` and `a.b` cannot both be
            except ValueError as exc:
                raise PydanticCustomError("conflicting_ids", str(exc)) from None
        return value

    def all_tasks(self) -> Iterator[Task]:
        """Every task of the flow, depth first, error branches, `finally` and `afterExecution` included."""
        yield from _walk([*self.tasks, *self.errors, *self.finally_, *self.after_execution])

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
            yield from _walk(task.finally_tasks())
