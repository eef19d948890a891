"""An index over an execution's task runs: children by parent, runs by (parent, task, value), ancestors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conveyor.common.model import Execution, TaskRun

Key = tuple[str | None, str, str | None]


class RunIndex:
    def __init__(self, execution: Execution) -> None:
        self.by_id: dict[str, TaskRun] = {}
        self.by_key: dict[Key, TaskRun] = {}
        self.children: dict[str | None, list[TaskRun]] = {}
        for run in execution.task_run_list:
            self.add(run)

    def add(self, run: TaskRun) -> None:
        self.by_id[run.id] = run
        self.by_key[(run.parent_task_run_id, run.task_id, run.value)] = run
        self.children.setdefault(run.parent_task_run_id, []).append(run)

    def find(self, parent_id: str | None, task_id: str, value: str | None) -> TaskRun | None:
        return self.by_key.get((parent_id, task_id, value))

    def ancestors(self, run: TaskRun) -> Iterator[TaskRun]:
        """Nearest first."""
        parent_id = run.parent_task_run_id
        while parent_id is not None:
            parent = self.by_id[parent_id]
            yield parent
            parent_id = parent.parent_task_run_id

    def value_path(self, run: TaskRun) -> list[str]:
        """The non-null values of the run's ancestors, outermost first, then its own."""
        path = [a.value for a in self.ancestors(run) if a.value is not None]
        path.reverse()
        if run.value is not None:
            path.append(run.value)
        return path

    def outputs_tree(self) -> dict[str, Any]:
        """The `outputs` variable: `outputs[taskId]`, nested by value path inside loops."""
        tree: dict[str, Any] = {}
        for run in self.by_id.values():
            if not run.outputs:
                continue
            path = self.value_path(run)
            if not path:
                tree[run.task_id] = run.outputs
                continue
            node = tree.setdefault(run.task_id, {})
            if not isinstance(node, dict):
                continue
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = run.outputs
        return tree
