"""Tasks that change the running execution itself; the executor runs them in its decision
(`executor.updating`), no worker does."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from conveyor.common.tasks.base import ExecutionUpdatingTask


class Labels(ExecutionUpdatingTask):
    """Adds labels to the running execution, or overwrites those it has (the reference's Labels): `labels` is
    a map, a list of `{key, value}`, or an expression rendering a JSON object. Keys and values are rendered;
    a `system.` key fails the task."""

    type_names = ("io.kestra.plugin.core.execution.Labels", "io.kestra.core.tasks.executions.Labels")
    labels: dict[str, Any] | list[dict[str, Any]] | str = Field(union_mode="left_to_right")

    @field_validator("labels")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if isinstance(value, list):
            for i, item in enumerate(value):
                if "key" not in item or "value" not in item or len(item) != 2:
                    raise ValueError(f"labels[{i}]: a label is a map of `key` and `value`, got {sorted(item)}")
        return value
