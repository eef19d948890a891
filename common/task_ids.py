"""Where a flow's task ids are written: a duplicate task id is refused at the line of its second use.

The YAML tree is walked as written (aliases are nodes of their own place): every mapping whose `type` is a
task type and whose `id` is a scalar is a task, wherever it sits (`tasks`, `errors`, `finally`, a flowable's
`tasks`, `then`, `cases`…), so the walk needs no list of the places that hold tasks.
"""

from __future__ import annotations

from collections.abc import Iterator, Set

import yaml

from conveyor.common.errors import Problem

Path = list[int | str]


def duplicate_task_ids(root: yaml.Node | None, duplicates: list[str], task_types: Set[str]) -> list[Problem]:
    """One problem per later use of each id in `duplicates` (`tasks[1].id: duplicate task id 'a' (first at
    line 4)`), located; an id not found in the tree (it cannot be) gets one unlocated problem."""
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for path, node in _task_ids(root, [], task_types):
        if node.value not in duplicates:
            continue
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if node.value not in first:
            first[node.value] = line
            continue
        message = f"duplicate task id '{node.value}' (first at line {first[node.value]})"
        problems.append(Problem(field_name([*path, "id"]), message, line, column))
    located = {p.message.split("'")[1] for p in problems}
    return problems + [Problem("tasks", f"duplicate task id '{i}'") for i in duplicates if i not in located]


def _task_ids(node: yaml.Node | None, path: Path, task_types: Set[str]) -> Iterator[tuple[Path, yaml.ScalarNode]]:
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _task_ids(item, [*path, index], task_types)
    elif isinstance(node, yaml.MappingNode):
        keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        kind, ident = keys.get("type"), keys.get("id")
        if isinstance(kind, yaml.ScalarNode) and kind.value in task_types and isinstance(ident, yaml.ScalarNode):
            yield path, ident
        for key, value in node.value:
            yield from _task_ids(value, [*path, key.value], task_types)


def field_name(path: Path) -> str:
    """`tasks[1].tasks[0].id`, as the loader names a field."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
