"""Expressions that cannot compile, found before a run: `{{ outputs.x.value ` (no `}}`) fails its task with
the same syntax error whenever it renders. The reference loads such a flow (its tests count on the task
failing when it runs: `flowable-with-parent-fail`), so this is a warning of `conveyor validate`
(`flow_warnings`), at the line, not a refusal.

Every string of the YAML tree is checked but descriptions and display names (text for people, never
rendered) and ids and types (never rendered either).
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from conveyor.common.errors import Problem
from conveyor.common.render import syntax_error
from conveyor.common.task_ids import Path, field_name

_NOT_RENDERED = frozenset({"description", "displayName", "id", "type"})


def expression_problems(root: yaml.Node | None) -> list[Problem]:
    problems = []
    for path, node in _strings(root, []):
        error = syntax_error(node.value)
        if error is None:
            continue
        line_in_template, message = error
        # a block scalar (`|`, `>`) starts on the line after its indicator
        first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
        line = first + line_in_template - 1
        column = node.start_mark.column + 1 if line == node.start_mark.line + 1 else None
        problems.append(Problem(field_name(path), f"invalid expression: {message.rstrip('.')}", line, column))
    return problems


def _strings(node: yaml.Node | None, path: Path) -> Iterator[tuple[Path, yaml.ScalarNode]]:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
        yield path, node
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _strings(item, [*path, index])
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if not (isinstance(key, yaml.ScalarNode) and key.value in _NOT_RENDERED):
                yield from _strings(value, [*path, key.value])
