"""Inputs are checked and typed before an execution exists."""

from __future__ import annotations

import pytest

from conveyor.common.errors import InputError
from conveyor.common.inputs import parse_inputs
from conveyor.common.loader import load_flow

FLOW = load_flow("""
id: i
namespace: t
inputs:
  - {id: s, type: STRING}
  - {id: n, type: INT, defaults: 3}
  - {id: f, type: FLOAT, required: false}
  - {id: b, type: BOOLEAN, required: false}
  - {id: d, type: DATETIME, required: false}
  - {id: j, type: JSON, required: false}
tasks:
  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}
""")


def test_values_are_typed_and_defaults_applied() -> None:
    values = parse_inputs(FLOW, {"s": "x", "f": "1.5", "b": "TRUE", "d": "2024-01-02T03:04:05Z", "j": '{"a": 1}'})
    assert values == {"s": "x", "n": 3, "f": 1.5, "b": True, "d": "2024-01-02T03:04:05Z", "j": {"a": 1}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "input 's' (STRING) is required"),
        ({"s": "x", "n": "three"}, "input 'n': expected an integer"),
        ({"s": "x", "b": "yes"}, "input 'b': expected true or false"),
        ({"s": "x", "d": "2024-01-02"}, "input 'd': expected a date-time with a time zone"),
        ({"s": "x", "j": "{bad"}, "input 'j': expected JSON"),
        ({"s": "x", "zzz": "1"}, "unknown input 'zzz'"),
    ],
)
def test_bad_inputs_are_rejected_with_a_clear_message(raw: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=r"invalid inputs for flow t\.i") as caught:
        parse_inputs(FLOW, raw)
    assert message in str(caught.value)
