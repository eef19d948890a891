"""The jq subset behind the `jq('…')` expression filter."""

from __future__ import annotations

import pytest

from conveyor.common.jq import JqError, Limits, jq

DOC = {"a": [1, 2, {"b": 3}], "name": "x", "nested": {"k": "v", "n": None}}


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (".", [DOC]),
        (".name", ["x"]),
        ('."name"', ["x"]),
        ('.["name"]', ["x"]),
        (".a[2].b", [3]),
        (".a[-1]", [{"b": 3}]),
        (".a[0:2]", [[1, 2]]),
        (".a[]", [1, 2, {"b": 3}]),
        (".name, .nested.k", ["x", "v"]),
        (".a | length", [3]),
        (".nested | keys", [["k", "n"]]),
        ('.nested.n // "default"', ["default"]),
        (".missing.deeper", [None]),
        (".name.x?", []),
        ("[.a[0:2][] | select(. > 1)]", [[2]]),
        (".a[0:2] | map(. * 10) | add", [30]),
        ('{n: .name, "c": (.a | length)}', [{"n": "x", "c": 3}]),
        ('if .name == "x" then "yes" else "no" end', ["yes"]),
        (".name | ascii_upcase", ["X"]),
        ('[.a[0:2][] | tostring] | join(",")', ["1,2"]),
        (".nested | to_entries | map(.key)", [["k", "n"]]),
        ("[range(3)]", [[0, 1, 2]]),
        ("1 + 2 * 3", [7]),
        ('.name == "x" and (.a | length) >= 3', [True]),
    ],
)
def test_programs(program: str, expected: list[object]) -> None:
    assert jq(DOC, program) == expected


def test_a_string_input_is_parsed_as_json_when_it_is_json() -> None:
    assert jq('{"key": "my-key"}', ".key") == ["my-key"]
    assert jq("plain text", ".") == ["plain text"]


def test_errors_name_the_problem() -> None:
    with pytest.raises(JqError, match="cannot index number"):
        jq(1, ".a")
    with pytest.raises(JqError, match="unexpected"):
        jq({}, ".a ]")
    with pytest.raises(JqError):
        jq({}, ".[")
    with pytest.raises(JqError, match="unknown function"):
        jq({}, "env")


def test_leaf_paths_of_jq_1_6() -> None:
    """`leaf_paths` (jq 1.6, the reference's jackson-jq; jq 1.8 dropped it, so the real-jq corpus lacks it)."""
    # not ["c", "d"]: at a null leaf `scalars` gives null, which `paths(f)` takes as false
    assert jq({"a": 1, "b": [2, {}], "c": {"d": None}}, "[leaf_paths]") == [[["a"], ["b", 0]]]


def test_path_builtins_count_towards_the_result_limit() -> None:
    with pytest.raises(JqError, match="CONVEYOR_JQ_MAX_RESULT"):
        jq(list(range(1000)), "[tostream]", Limits(timeout=5, max_result=500))
