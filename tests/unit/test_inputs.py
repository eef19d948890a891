"""Inputs are checked and typed before an execution exists: every type of the reference, its rules
(`validator`, `min`/`max`, `after`/`before`, `values`), defaults, optional and dotted inputs.

The valid and invalid values are those of the reference's own `InputsTest` (flows/valids/inputs.yaml)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.common.errors import InputError
from conveyor.common.flow import Flow
from conveyor.common.input_secrets import is_sealed, unseal
from conveyor.common.inputs import InputProblems, nest, parse_inputs
from conveyor.common.loader import load_flow


def one(declaration: str) -> Flow:
    """A flow with the single input `x` declared by `declaration` (YAML flow mapping entries)."""
    return load_flow(f"""
id: i
namespace: t
inputs:
  - {{id: x, {declaration}}}
tasks:
  - {{id: a, type: io.kestra.plugin.core.log.Log, message: x}}
""")


VALID: list[tuple[str, Any, Any]] = [
    ("type: STRING", "myString", "myString"),
    ("type: STRING", {"a": 1}, '{"a":1}'),
    ("type: INT", "42", 42),
    ("type: INT", 42, 42),
    ("type: FLOAT", "42.42", 42.42),
    ("type: FLOAT", 3, 3.0),
    ("type: BOOLEAN", "false", False),
    ("type: BOOLEAN", "TRUE", True),
    ("type: BOOL", True, True),
    ("type: DATETIME", "2019-10-06T18:27:49Z", "2019-10-06T18:27:49Z"),
    ("type: DATETIME", "2019-10-06T20:27:49+02:00", "2019-10-06T20:27:49+02:00"),
    ("type: DATE", "2019-10-06", "2019-10-06"),
    ("type: TIME", "18:27:49", "18:27:49"),
    ("type: DURATION", "PT5M6S", "PT5M6S"),
    ("type: DURATION", "PT90M", "PT1H30M"),
    ("type: DURATION", "P1D", "PT24H"),
    ("type: JSON", '{"a": "b"}', {"a": "b"}),
    ("type: JSON", "{}", {}),
    ("type: JSON", [1, 2], [1, 2]),
    ("type: YAML", "some: property\nalist:\n- of\n- values", {"some": "property", "alist": ["of", "values"]}),
    ("type: URI", "https://www.google.com", "https://www.google.com"),
    ("type: EMAIL", "ada@example.com", "ada@example.com"),
    ("type: ENUM, values: [ENUM_VALUE, OTHER_ONE]", "ENUM_VALUE", "ENUM_VALUE"),
    ("type: SELECT, values: [a, b]", "b", "b"),
    ("type: SELECT, values: [a, b], allowCustomValue: true", "z", "z"),
    ("type: MULTISELECT, values: [a, b, c]", '["a", "c"]', ["a", "c"]),
    ("type: MULTISELECT, options: [a, b]", ["b"], ["b"]),
    ("type: MULTISELECT, values: [a], allowCustomValue: true", ["a", "z"], ["a", "z"]),
    ("type: MULTISELECT, values: ['1', '2'], itemType: INT", ["1"], [1]),
    ("type: ARRAY, itemType: INT", "[1, 2, 3]", [1, 2, 3]),
    ("type: ARRAY, itemType: STRING", ["a", "b"], ["a", "b"]),
    ("type: ARRAY, itemType: DATE", ["2024-01-02"], ["2024-01-02"]),
    ("type: STRING, validator: 'A\\d+'", "A123", "A123"),
    # a Java pattern (`common/java_regex.py`): POSIX classes, quoting, possessive quantifiers
    ("type: STRING, validator: '\\p{Alpha}++\\Q.*\\E'", "abc.*", "abc.*"),
    ("type: INT, min: 10, max: 20", "12", 12),
    ("type: INT, min: 10, max: 20", "10", 10),
    ("type: FLOAT, min: 0.1, max: 0.5", "0.42", 0.42),
    ("type: DURATION, min: PT10S, max: PT20S", "PT15S", "PT15S"),
    ("type: DATE, after: 2023-01-01, before: 2023-12-31", "2023-01-02", "2023-01-02"),
    ("type: DATETIME, after: '2023-01-01T00:00:00Z', before: '2023-12-31T23:59:59Z'", "2023-01-01T00:00:10Z", None),
    ("type: TIME, after: '01:00:00', before: '11:59:59'", "11:27:49", "11:27:49"),
]


@pytest.mark.parametrize(("declaration", "given", "typed"), VALID)
def test_a_valid_value_is_typed(declaration: str, given: Any, typed: Any) -> None:
    value = parse_inputs(one(declaration), {"x": given})["x"]
    assert value == (given if typed is None else typed)


INVALID: list[tuple[str, Any, str]] = [
    ("type: INT", "three", "expected an integer (INT), got `three`"),
    ("type: INT", "4.5", "expected an integer (INT)"),
    ("type: INT", True, "expected an integer (INT)"),
    ("type: FLOAT", "x", "expected a number (FLOAT)"),
    ("type: BOOLEAN", "yes", "expected true or false (BOOLEAN)"),
    ("type: DATETIME", "2024-01-02", "with a time zone"),
    ("type: DATETIME", "yesterday", "expected an ISO-8601 date-time (DATETIME)"),
    ("type: DATE", "2024-13-01", "expected a date YYYY-MM-DD (DATE)"),
    ("type: TIME", "25:00", "expected a time HH:MM[:SS] (TIME)"),
    ("type: DURATION", "5 minutes", "expected an ISO-8601 duration such as PT5M (DURATION)"),
    ("type: DURATION", 5, "(DURATION)"),
    ("type: JSON", "{bad", "expected JSON"),
    ("type: YAML", "a: [", "expected YAML"),
    ("type: URI", "http:/bla", "(URI), got `http:/bla`"),
    ("type: EMAIL", "not-an-email", "expected an email address (EMAIL)"),
    ("type: ENUM, values: [ENUM_VALUE, OTHER_ONE]", "INVALID", "it must match the values `[ENUM_VALUE, OTHER_ONE]`"),
    ("type: SELECT, values: [a, b]", "z", "it must match the values `[a, b]`, but received `z`"),
    ("type: MULTISELECT, values: [a, b]", ["a", "z"], "it must match the values `[a, b]`"),
    ("type: MULTISELECT, values: [a, b]", "a", "expected a JSON list (ARRAY)"),
    ("type: ARRAY, itemType: INT", '["s1", "s2"]', "Unable to parse array element as `INT` on `s1`"),
    ("type: ARRAY, itemType: INT", '{"a": 1}', "expected a JSON list (ARRAY)"),
    ("type: STRING, validator: 'A\\d+'", "foo", "it must match the pattern `A\\d+`, but received `foo`"),
    ("type: STRING, validator: 'A\\d+'", "A1x", "it must match the pattern"),
    ("type: STRING, validator: '\\p{Alpha}++\\Q.*\\E'", "abcx", "it must match the pattern"),
    ("type: STRING, validator: '\\d+'", "١٢", "it must match the pattern"),  # Java's \d is ASCII
    ("type: INT, min: 10, max: 20", "9", "it must be more than `10`, but received `9`"),
    ("type: INT, min: 10, max: 20", "21", "it must be less than `20`, but received `21`"),
    ("type: FLOAT, min: 0.1, max: 0.5", "0.01", "it must be more than `0.1`, but received `0.01`"),
    ("type: FLOAT, min: 0.1, max: 0.5", "1.01", "it must be less than `0.5`, but received `1.01`"),
    ("type: DURATION, min: PT10S, max: PT20S", "PT1S", "it must be more than `PT10S`, but received `PT1S`"),
    ("type: DURATION, min: PT10S, max: PT20S", "PT30S", "it must be less than `PT20S`, but received `PT30S`"),
    ("type: DATE, after: 2023-01-01, before: 2023-12-31", "2022-01-01", "it must be after `2023-01-01`"),
    ("type: DATE, after: 2023-01-01, before: 2023-12-31", "2024-01-01", "it must be before `2023-12-31`"),
    (
        "type: DATETIME, after: '2023-01-01T00:00:00Z', before: '2023-12-31T23:59:59Z'",
        "2022-01-01T00:00:00Z",
        "it must be after `2023-01-01T00:00:00Z`, but received `2022-01-01T00:00:00Z`",
    ),
    (
        "type: DATETIME, after: '2023-01-01T00:00:00Z', before: '2023-12-31T23:59:59Z'",
        "2024-01-01T00:00:00Z",
        "it must be before `2023-12-31T23:59:59Z`",
    ),
    ("type: TIME, after: '01:00:00', before: '11:59:59'", "00:00:01", "it must be after `01:00:00`"),
    ("type: TIME, after: '01:00:00', before: '11:59:59'", "14:00:00", "it must be before `11:59:59`"),
]


@pytest.mark.parametrize(("declaration", "given", "message"), INVALID)
def test_an_invalid_value_is_refused_naming_the_input_and_the_rule(declaration: str, given: Any, message: str) -> None:
    with pytest.raises(InputProblems, match=r"invalid inputs for flow t\.i") as caught:
        parse_inputs(one(declaration), {"x": given})
    assert caught.value.problems[0][0] == "x"
    assert message in caught.value.problems[0][1]
    assert str(caught.value).startswith("invalid inputs for flow t.i: input 'x': ") and message in str(caught.value)


def test_defaults_are_typed_and_checked_like_given_values() -> None:
    assert parse_inputs(one("type: DATETIME, defaults: '2013-08-09T14:19:00Z'"), {}) == {"x": "2013-08-09T14:19:00Z"}
    assert parse_inputs(one("type: INT, defaults: '7'"), {}) == {"x": 7}
    assert parse_inputs(one("type: STRING, defaults: '', required: true"), {}) == {"x": ""}
    assert parse_inputs(one("type: YAML, defaults: {property: something}"), {}) == {"x": {"property": "something"}}
    assert parse_inputs(one("type: INT, defaults: 3"), {"x": "5"}) == {"x": 5}
    with pytest.raises(InputError, match=r"input 'x': it must be more than `10`, but received `3`"):
        parse_inputs(one("type: INT, min: 10, defaults: 3"), {})


def test_a_missing_required_input_is_refused_and_a_missing_optional_one_is_null() -> None:
    with pytest.raises(InputError, match=r"input 'x': missing required input \(STRING\)"):
        parse_inputs(one("type: STRING"), {})
    with pytest.raises(InputError, match=r"missing required input"):
        parse_inputs(one("type: STRING"), {"x": None})
    assert parse_inputs(one("type: BOOLEAN, required: false"), {}) == {"x": None}


def test_unknown_inputs_are_refused() -> None:
    with pytest.raises(InputError, match=r"unknown input 'zzz' \(declared: x\)"):
        parse_inputs(one("type: STRING"), {"x": "a", "zzz": "1"})


def test_every_problem_is_reported_at_once() -> None:
    flow = load_flow("""
id: i
namespace: t
inputs:
  - {id: a, type: INT}
  - {id: b, type: DATE}
  - {id: c, type: STRING}
tasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: x}]
""")
    with pytest.raises(InputProblems) as caught:
        parse_inputs(flow, {"a": "x", "b": "y"})
    assert [name for name, _ in caught.value.problems] == ["a", "b", "c"]


def test_dotted_ids_nest_as_the_reference_nests_them() -> None:
    flow = load_flow("""
id: i
namespace: t
inputs:
  - {id: nested.string, type: STRING, required: false}
  - {id: nested.more.int, type: INT, required: false}
  - {id: nested.bool, type: BOOLEAN, required: false}
  - {id: top, type: STRING, required: false}
tasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: x}]
""")
    given = {"nested.string": "a string", "nested.more.int": "123", "nested.bool": "true"}
    assert parse_inputs(flow, given) == {
        "nested": {"string": "a string", "more": {"int": 123}, "bool": True},
        "top": None,
    }


def test_ids_that_are_both_a_value_and_a_group_conflict() -> None:
    with pytest.raises(ValueError, match=r"ids conflict at 'a\.b'"):
        nest({"a": 1, "a.b": 2})
    with pytest.raises(ValueError, match="ids conflict at 'a'"):
        nest({"a.b": 1, "a": 2})
    assert nest({"a.b": 1, "a.c": {"d": 2}}) == {"a": {"b": 1, "c": {"d": 2}}}


def test_a_secret_is_sealed_and_its_value_never_appears_in_an_error() -> None:
    value = parse_inputs(one("type: SECRET"), {"x": "hunter2"})["x"]
    assert is_sealed(value) and "hunter2" not in value and unseal(value) == "hunter2"
    with pytest.raises(InputError) as caught:
        parse_inputs(one("type: SECRET, validator: '[a-z]+'"), {"x": "Hunter2"})
    assert "it must match the pattern `[a-z]+`" in str(caught.value) and "Hunter2" not in str(caught.value)


def test_the_legacy_name_is_the_id() -> None:
    flow = one("type: STRING")
    legacy = load_flow("""
id: i
namespace: t
inputs:
  - {name: old, type: STRING}
tasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: x}]
""")
    assert legacy.inputs[0].id == "old" and flow.inputs[0].id == "x"
    assert parse_inputs(legacy, {"old": "v"}) == {"old": "v"}


DEPENDS = """
id: i
namespace: t
inputs:
  - id: zone
    type: SELECT
    values: [eu-west, eu-east, us-east]
    dependsOn: {inputs: [cloud], condition: "{{ inputs.cloud == 'aws' }}"}
  - {id: cloud, type: SELECT, values: [aws, gcp]}
  - {id: size, type: INT, dependsOn: {inputs: [zone]}}
tasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: x}]
"""


def test_an_input_whose_condition_holds_is_asked_for_after_its_dependencies() -> None:
    flow = load_flow(DEPENDS)
    assert parse_inputs(flow, {"cloud": "aws", "zone": "eu-west", "size": "3"}) == {
        "zone": "eu-west",
        "cloud": "aws",
        "size": 3,
    }
    with pytest.raises(InputProblems) as caught:
        parse_inputs(flow, {"cloud": "aws"})
    assert [name for name, _ in caught.value.problems] == ["zone"]  # size waits for a zone


def test_an_input_whose_condition_fails_is_left_out_with_the_inputs_depending_on_it() -> None:
    # zone is required, but not asked for on gcp; size depends on zone, so it is not asked for either.
    assert parse_inputs(load_flow(DEPENDS), {"cloud": "gcp"}) == {"cloud": "gcp"}


def test_only_the_dependency_is_reported_when_its_value_is_bad() -> None:
    with pytest.raises(InputProblems) as caught:
        parse_inputs(load_flow(DEPENDS), {"cloud": "azure", "zone": "eu-west"})
    assert [name for name, _ in caught.value.problems] == ["cloud"]


def test_inputs_depending_on_one_another_in_a_cycle_are_refused() -> None:
    cyclic = DEPENDS.replace("{id: cloud, type: SELECT,", "{id: cloud, type: SELECT, dependsOn: {inputs: [size]},")
    with pytest.raises(InputError, match="dependsOn is a cycle"):
        parse_inputs(load_flow(cyclic), {"cloud": "aws"})


EXPRESSION = """
id: i
namespace: t
inputs:
  - {id: cloud, type: SELECT, values: [aws, gcp]}
  - id: zone
    type: SELECT
    expression: "{{ inputs.cloud == 'aws' ? ['eu-west-1', 'us-east-1'] : ['europe-west1'] }}"
    dependsOn: {inputs: [cloud]}
  - id: zones
    type: MULTISELECT
    expression: "{{ [inputs.cloud, 'any'] }}"
    dependsOn: {inputs: [cloud]}
    required: false
tasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: x}]
"""


def test_a_select_expression_renders_its_values_over_the_inputs_it_depends_on() -> None:
    flow = load_flow(EXPRESSION)
    assert parse_inputs(flow, {"cloud": "gcp", "zone": "europe-west1"})["zone"] == "europe-west1"
    with pytest.raises(InputProblems) as caught:
        parse_inputs(flow, {"cloud": "gcp", "zone": "eu-west-1"})
    assert caught.value.problems == [("zone", "it must match the values `[europe-west1]`, but received `eu-west-1`")]
    assert parse_inputs(flow, {"cloud": "aws", "zone": "eu-west-1", "zones": ["aws", "any"]})["zones"] == ["aws", "any"]
    with pytest.raises(InputProblems, match=r"input 'zones': it must match the values `\[aws, any\]`"):
        parse_inputs(flow, {"cloud": "aws", "zone": "eu-west-1", "zones": ["gcp"]})
    not_a_list = load_flow(EXPRESSION.replace("[inputs.cloud, 'any']", "inputs.cloud"))
    with pytest.raises(InputProblems) as caught:
        parse_inputs(not_a_list, {"cloud": "aws", "zone": "eu-west-1"})
    assert caught.value.problems == [
        ("zones", "Invalid expression result. Expected a list of strings, but received `aws`")
    ]
