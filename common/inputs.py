"""Execution inputs checked and typed against the flow's declared inputs, before an execution exists, and
flow outputs typed at the end of one, as the reference does (`FlowInputOutput`).

- a value is typed as its input's type (`input_types`) and checked against its rules (`input_rules`);
- an input not given takes its `defaults`, which are typed and checked the same way; an optional input
  with neither is `null` (`{{ inputs.x }}` renders empty);
- dotted ids nest: `nested.more.int` is `inputs.nested.more.int`;
- an input whose `dependsOn` is not met is left out (`input_depends`);
- a SECRET value is sealed (`input_secrets`): indexed and shown as `******`, revealed where an expression
  reads it."""

from __future__ import annotations

from typing import Any

from conveyor.common import input_depends, input_secrets
from conveyor.common.dotted import nest
from conveyor.common.errors import InputError
from conveyor.common.flow import Flow
from conveyor.common.input_rules import check
from conveyor.common.input_spec import Input, Output
from conveyor.common.input_types import InputType, parse


class InputProblems(InputError):
    """Inputs that do not fit their declaration; `problems` is `(input id, message)` for each."""

    def __init__(self, flow: Flow, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        listed = "; ".join(f"input '{name}': {message}" if name else message for name, message in problems)
        super().__init__(f"invalid inputs for flow {flow.namespace}.{flow.id}: {listed}")


def parse_inputs(flow: Flow, raw: dict[str, Any]) -> dict[str, Any]:
    """Typed values for `raw` (strings from the CLI, or JSON values from the API), nested by dotted id.

    Raises `InputProblems` naming every input that is unknown, missing, of the wrong type or breaks a rule."""
    declared = {i.id: i for i in flow.inputs}
    known = ", ".join(declared) or "none"
    problems = [("", f"unknown input '{name}' (declared: {known})") for name in raw if name not in declared]
    flat: dict[str, Any] = {}
    disabled: set[str] = set()
    try:
        ordered = input_depends.order(flow.inputs)
    except ValueError as exc:
        raise InputProblems(flow, [*problems, ("", str(exc))]) from None
    failed: set[str] = set()
    for spec in ordered:
        if spec.depends_on is not None and failed.intersection(spec.depends_on.inputs):
            failed.add(spec.id)  # its dependency's own problem is reported: nothing to say of this one yet
            continue
        try:
            if not input_depends.enabled(spec, flat, disabled):
                disabled.add(spec.id)
                continue
            given = raw.get(spec.id)
            rendered = input_depends.with_values(spec, flat)
            flat[spec.id] = typed_input(rendered, spec.defaults if given is None else given)
        except ValueError as exc:
            problems.append((spec.id, str(exc)))
            failed.add(spec.id)
    try:
        values = nest({i.id: flat[i.id] for i in flow.inputs if i.id in flat})
    except ValueError as exc:
        problems.append(("", str(exc)))
    if problems:
        raise InputProblems(flow, problems)
    return values


def typed_input(spec: Input, value: Any) -> Any:
    """`value` typed and checked for `spec` (`None`: missing); `ValueError` with the reference's wording."""
    if value is None:
        if spec.required:
            raise ValueError(f"missing required input ({spec.type})")
        return None
    item_type = spec.item_type or (InputType.STRING if spec.type == InputType.MULTISELECT else None)
    typed = parse(spec.type, value, item_type)
    try:
        check(spec, typed)
    except ValueError as exc:
        received = "" if spec.type == InputType.SECRET else f", but received `{_shown(value)}`"
        raise ValueError(f"{exc}{received}") from None
    return input_secrets.seal(typed) if spec.type == InputType.SECRET else typed


def typed_output(output: Output, value: Any) -> Any:
    """A flow output's rendered `value` as its declared type; `InputError` names the output if it does not fit."""
    try:
        typed = parse(output.type, value)
    except ValueError as exc:
        raise InputError(f"output '{output.id}': {exc}") from None
    return input_secrets.seal(typed) if output.type == InputType.SECRET else typed


def typed_outputs(outputs: list[Output], rendered: dict[str, Any]) -> dict[str, Any]:
    """Every flow output typed, by id (the reference keeps output ids flat, dotted or not)."""
    return {output.id: typed_output(output, rendered.get(output.id)) for output in outputs}


def _shown(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


__all__ = ["InputProblems", "nest", "parse_inputs", "typed_input", "typed_output", "typed_outputs"]
