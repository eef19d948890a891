"""Flows from YAML, with errors that name the file, line, field and what was expected."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from conveyor.common.errors import FlowError, Problem
from conveyor.common.flow import Flow
from conveyor.common.tasks import registry

Loc = tuple[int | str, ...]


def load_flow_file(path: str | Path) -> Flow:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise FlowError(str(path), [Problem("", f"cannot read the file: {exc.strerror}")]) from exc
    return load_flow(text, str(path))


def load_flow(text: str, source: str = "<flow>") -> Flow:
    registry.resolve()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise FlowError(source, [Problem("", f"invalid YAML: {exc.problem}", line, column)]) from exc
    if not isinstance(data, dict):
        raise FlowError(source, [Problem("", "expected a mapping with id, namespace and tasks", 1)])
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        tags = set(registry.task_classes()) | {c.canonical_type() for c in registry.task_classes().values()}
        problems = [_problem(err, node, tags) for err in exc.errors()]
        raise FlowError(source, _unique(problems)) from exc
    duplicates = [i for i, n in Counter(t.id for t in flow.all_tasks()).items() if n > 1]
    if duplicates:
        raise FlowError(source, [Problem("tasks", f"duplicate task id '{i}'") for i in duplicates])
    return flow


def _problem(err: ErrorDetails, root: yaml.Node | None, tags: set[str]) -> Problem:
    loc = [part for part in err["loc"] if not (isinstance(part, str) and part in tags)]
    # Pydantic names the member of `str | list` that failed (e.g. "str"); the user wrote one field.
    loc = [p for p in loc if p not in ("str", "list[any]", "int", "bool", "function-after[_labels(), dict[str,str]]")]
    node, found = _node_at(root, loc)
    line = node.start_mark.line + 1 if node is not None else None
    column = node.start_mark.column + 1 if node is not None else None
    return Problem(_field(loc), _message(err, loc, found), line, column)


def _node_at(root: yaml.Node | None, loc: list[int | str]) -> tuple[yaml.Node | None, bool]:
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, _ in node.value if k.value == part), None)
            if match is None:
                return node, False
            node = match if part != loc[-1] else (key if isinstance(match, yaml.MappingNode) else match)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node, False
    return node, True


def _field(loc: list[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: ErrorDetails, loc: list[int | str], found: bool) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "union_tag_invalid":
        known = ", ".join(registry.known_types())
        return f"unknown task type '{ctx.get('tag')}'; known types: {known}"
    if kind == "union_tag_not_found":
        return "missing 'type': every task needs a type"
    if kind == "missing":
        return "required property is missing"
    if kind == "extra_forbidden":
        return f"unknown property '{loc[-1] if loc else ''}'"
    if kind == "string_pattern_mismatch":
        return f"expected an identifier matching {ctx.get('pattern')}, got {err['input']!r}"
    value = "" if not found else f" (got {err['input']!r})"
    return f"{err['msg'].replace('Input should be', 'expected')}{value}"


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: dict[tuple[str, str], Problem] = {}
    for p in problems:
        seen.setdefault((p.field, p.message), p)
    return list(seen.values())


def flow_to_dict(flow: Flow) -> dict[str, Any]:
    return flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
