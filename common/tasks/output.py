"""`OutputValues`: values rendered into the task's outputs (`outputs.<id>.values.<name>`)."""

from __future__ import annotations

from typing import Any

from conveyor.common.tasks.base import RunnableTask


class OutputValues(RunnableTask):
    """Renders every string inside `values` (maps and lists too) and returns them as the output `values`."""

    type_names = ("io.kestra.plugin.core.output.OutputValues",)
    values: dict[str, Any] = {}
