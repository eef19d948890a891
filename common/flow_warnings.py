"""What `conveyor validate` warns of in a flow that loads, each at its file, line and field (exit 0): the
reference loads such flows too, and the problem shows only when an execution meets it.

- an expression that cannot compile (`expression_check`): its task fails each time it renders it;
- an input's `defaults` that does not fit its own declaration (`defaults: abc` on an INT, below its `min`):
  every execution that does not give the input is refused.
"""

from __future__ import annotations

import yaml

from conveyor.common.errors import Problem
from conveyor.common.expression_check import expression_problems
from conveyor.common.flow import Flow
from conveyor.common.inputs import typed_input
from conveyor.common.render import is_template

_EXPRESSION = "the task fails each time it renders this"


def flow_warnings(text: str, flow: Flow) -> list[Problem]:
    """The warnings of a flow's source, one the loader accepted as `flow`."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    found = [Problem(p.field, f"{p.message} ({_EXPRESSION})", p.line, p.column) for p in expression_problems(root)]
    return found + _defaults(root, flow)


def _defaults(root: yaml.Node | None, flow: Flow) -> list[Problem]:
    found = []
    for index, spec in enumerate(flow.inputs):
        value = spec.defaults
        if value is None or spec.depends_on is not None or (isinstance(value, str) and is_template(value)):
            continue  # an expression, or a value that depends on other inputs: known only at the start
        try:
            typed_input(spec, value)
        except ValueError as exc:
            line, column = _position(root, index)
            message = f"{exc} (an execution that does not give '{spec.id}' is refused)"
            found.append(Problem(f"inputs[{index}].defaults", message, line, column))
    return found


def _position(root: yaml.Node | None, index: int) -> tuple[int | None, int | None]:
    """Where `inputs[index].defaults` is written (or its input, when `defaults` came from elsewhere)."""
    node = _value(root, "inputs")
    if not isinstance(node, yaml.SequenceNode) or index >= len(node.value):
        return None, None
    spec = node.value[index]
    at = _value(spec, "defaults") or spec
    return at.start_mark.line + 1, at.start_mark.column + 1


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
    return None
