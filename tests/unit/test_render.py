"""Expressions: sandboxed, strict, JSON for dicts and lists."""

from __future__ import annotations

import pytest

from conveyor.common.errors import RenderError
from conveyor.common.render import render, render_value


def test_dicts_and_lists_render_as_compact_json() -> None:
    assert render("{{ x }}", {"x": {"a": [1, 2]}}) == '{"a":[1,2]}'
    assert render("{{ [1, 'b'] }}", {}) == '[1,"b"]'


def test_booleans_render_like_the_reference() -> None:
    assert render("{{ true }} {{ 1 == 2 }}", {}) == "true false"


def test_undefined_is_an_error_naming_the_task_and_expression() -> None:
    with pytest.raises(RenderError) as caught:
        render("{{ outputs.missing.value }}", {"outputs": {}}, task_id="t1")
    assert "task 't1'" in str(caught.value) and "outputs.missing.value" in str(caught.value)


def test_sandbox_blocks_python_internals() -> None:
    with pytest.raises(RenderError, match="unsafe"):
        render("{{ ''.__class__.__mro__ }}", {})


def test_plain_strings_are_not_parsed() -> None:
    assert render("no {braces} here", {}) == "no {braces} here"


def test_render_value_walks_dicts_and_lists() -> None:
    assert render_value({"a": ["{{ v }}", 3]}, {"v": "x"}) == {"a": ["x", 3]}


def test_json_test_and_filters() -> None:
    assert render("{{ '[1]' is json }} {{ 'x' is json }}", {}) == "true false"
    assert render("{{ ('{\"k\": 2}' | fromJson).k }}", {}) == "2"
