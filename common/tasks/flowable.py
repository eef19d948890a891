"""The core flowable tasks. The executor decides them (see `executor.flowables`); no worker runs them.

Child lists are typed `AnyTask`, the union of every registered task type, resolved by
`conveyor.common.tasks.registry` once plugins are loaded.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, Field, field_validator

from conveyor.common.clock import parse_duration
from conveyor.common.input_spec import Input
from conveyor.common.tasks.base import FlowableTask, Task

if TYPE_CHECKING:
    AnyTask = Task


class _WithErrors(FlowableTask):
    """A flowable with an `errors` branch: tasks that run when its normal tasks fail."""

    errors: list[AnyTask] = []

    def error_tasks(self) -> list[Task]:
        return list(self.errors)


class _WithTasks(_WithErrors):
    """A flowable whose children are one `tasks` list."""

    tasks: list[AnyTask] = Field(min_length=1)

    def child_lists(self) -> list[list[Task]]:
        return [list(self.tasks)]


class Sequential(_WithTasks):
    type_names = ("io.kestra.plugin.core.flow.Sequential", "io.kestra.core.tasks.flows.Sequential")


class Parallel(_WithTasks):
    type_names = ("io.kestra.plugin.core.flow.Parallel", "io.kestra.core.tasks.flows.Parallel")
    # `concurrent` is the reference's name; `concurrency` is accepted too. 0 = no limit.
    concurrent: int = Field(default=0, ge=0)
    concurrency: int | None = Field(default=None, ge=0)

    @property
    def limit(self) -> int:
        return self.concurrency if self.concurrency is not None else self.concurrent


class ForEach(_WithTasks):
    type_names = ("io.kestra.plugin.core.flow.ForEach",)
    values: str | list[Any]
    # 1 = one value at a time (default), 0 = all at once, N = at most N values at once.
    concurrency_limit: int = Field(default=1, ge=0)


class EachSequential(_WithTasks):
    """Deprecated by the reference since 0.19: a ForEach with concurrencyLimit 1."""

    type_names = ("io.kestra.plugin.core.flow.EachSequential", "io.kestra.core.tasks.flows.EachSequential")
    value: str | list[Any]


class EachParallel(_WithTasks):
    """Deprecated by the reference since 0.19: a ForEach with concurrencyLimit 0 (or `concurrent`)."""

    type_names = ("io.kestra.plugin.core.flow.EachParallel", "io.kestra.core.tasks.flows.EachParallel")
    value: str | list[Any]
    concurrent: int = Field(default=0, ge=0)


class If(_WithErrors):
    type_names = ("io.kestra.plugin.core.flow.If", "io.kestra.core.tasks.flows.If")
    condition: str | bool | int
    then: list[AnyTask] = Field(min_length=1)
    else_: list[AnyTask] = Field(default=[], alias="else")

    @field_validator("else_", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    def child_lists(self) -> list[list[Task]]:
        return [list(self.then), list(self.else_)]


class Switch(_WithErrors):
    type_names = ("io.kestra.plugin.core.flow.Switch", "io.kestra.core.tasks.flows.Switch")
    value: str | int | bool
    cases: dict[str, list[AnyTask]] = {}
    defaults: list[AnyTask] = []

    @field_validator("cases", mode="before")
    @classmethod
    def _keys_are_strings(cls, value: Any) -> Any:
        # YAML case keys such as `1:` or `true:` are compared as strings, as in the reference.
        if isinstance(value, dict):
            return {_case_key(k): v for k, v in value.items()}
        return value

    @field_validator("defaults", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    def child_lists(self) -> list[list[Task]]:
        return [*(list(c) for c in self.cases.values()), list(self.defaults)]


def _case_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


class PauseBehavior(StrEnum):
    """What a Pause does when its `delay` (or `pauseDuration`) or `timeout` runs out without a resume (the
    reference's `behavior`; its states: RESUME goes on, WARN ends the pause WARNING and goes on, FAIL ends it
    FAILED, CANCEL ends the execution CANCELLED)."""

    RESUME = "RESUME"
    WARN = "WARN"
    FAIL = "FAIL"
    CANCEL = "CANCEL"


class Pause(_WithErrors):
    """Pause the execution until it is resumed (`conveyor resume`, `POST …/resume`), or until `delay` has
    passed (it then resumes itself), or `timeout` (the pause then fails, as in the reference). `behavior`
    says otherwise what the end of the delay or timeout does. `onResume` declares inputs given with the
    resume, typed like flow inputs and read as `outputs.<pause>.onResume.<input>`. `tasks` (deprecated by the
    reference) run after the resume, as a Sequential's."""

    type_names = ("io.kestra.plugin.core.flow.Pause", "io.kestra.core.tasks.flows.Pause")
    delay: str | None = Field(default=None, validation_alias=AliasChoices("delay", "pauseDuration"))
    behavior: PauseBehavior | None = None
    on_resume: list[Input] = []
    tasks: list[AnyTask] = []

    @field_validator("delay", mode="before")
    @classmethod
    def _duration_or_expression(cls, value: Any) -> Any:
        if isinstance(value, str) and "{{" not in value:
            parse_duration(value)  # a literal must be a duration (the error names the property)
        return value

    def child_lists(self) -> list[list[Task]]:
        return [list(self.tasks)]
