"""The core flowable tasks. The executor decides them (see `executor.flowables`); no worker runs them.

Child lists are typed `AnyTask`, the union of every registered task type, resolved by
`conveyor.common.tasks.registry` once plugins are loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

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
