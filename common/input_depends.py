"""`dependsOn` of an input, as the reference resolves it: an input is asked for only when every input it
depends on is, and its `condition` (an expression over those inputs) renders `true`. A disabled input is
left out of the execution's inputs; the inputs are resolved dependencies first (`order`). A SELECT or
MULTISELECT `expression` renders its `values` over the same inputs (`with_values`)."""

from __future__ import annotations

import json
from graphlib import CycleError, TopologicalSorter
from typing import Any

from conveyor.common.dotted import nest
from conveyor.common.errors import RenderError
from conveyor.common.input_spec import Input
from conveyor.common.render import render


def order(inputs: list[Input]) -> list[Input]:
    """`inputs` with each after the inputs it depends on (otherwise in declaration order).

    `ValueError` if they depend on one another in a cycle. An unknown dependency is ignored, as the
    reference ignores it."""
    by_id = {i.id: i for i in inputs}
    graph = TopologicalSorter({i.id: [d for d in _deps(i) if d in by_id and d != i.id] for i in inputs})
    try:
        ids = list(graph.static_order())
    except CycleError as exc:
        raise ValueError(f"dependsOn is a cycle: {' -> '.join(map(str, exc.args[1]))}") from None
    return [by_id[i] for i in ids]


def enabled(spec: Input, resolved: dict[str, Any], disabled: set[str]) -> bool:
    """Whether `spec` is asked for, given the inputs resolved so far (flat ids, typed) and those disabled.

    `ValueError` when its condition cannot be rendered."""
    if spec.depends_on is None:
        return True
    if any(d in disabled for d in spec.depends_on.inputs):
        return False
    if spec.depends_on.condition is None:
        return True
    try:
        rendered = render(spec.depends_on.condition, _context(spec, resolved))
    except RenderError as exc:
        raise ValueError(f"Invalid condition: {exc.reason}") from None
    return rendered.strip().lower() == "true"


def with_values(spec: Input, resolved: dict[str, Any]) -> Input:
    """`spec` with the `values` its `expression` renders to (SELECT, MULTISELECT), over the inputs it
    depends on; `ValueError` when it cannot be rendered or is not a list."""
    if spec.expression is None:
        return spec
    try:
        rendered = render(spec.expression, _context(spec, resolved))
    except RenderError as exc:
        raise ValueError(f"Cannot render 'expression'. Cause: {exc.reason}") from None
    try:
        values = json.loads(rendered)
    except ValueError:
        values = None
    if not isinstance(values, list):
        raise ValueError(f"Invalid expression result. Expected a list of strings, but received `{rendered}`")
    return spec.model_copy(update={"values": [str(v) for v in values if v is not None]})


def _context(spec: Input, resolved: dict[str, Any]) -> dict[str, Any]:
    return {"inputs": nest({k: v for k, v in resolved.items() if k in _deps(spec)})}


def _deps(spec: Input) -> list[str]:
    return spec.depends_on.inputs if spec.depends_on is not None else []
