"""The reference's (Pebble) expression syntax and functions on top of the Jinja2 sandbox."""

from __future__ import annotations

import re

import pytest

from conveyor.common.errors import RenderError
from conveyor.common.pebble import translate
from conveyor.common.render import render


def test_ternary_renders_only_the_chosen_branch() -> None:
    template = "{{ taskrun.attemptsCount == 3 ? 'ok' : ko }}"
    assert render(template, {"taskrun": {"attemptsCount": 3}}) == "ok"
    with pytest.raises(RenderError, match="Unable to find `ko`"):
        render(template, {"taskrun": {"attemptsCount": 0}})


def test_nested_ternaries_and_ternaries_inside_calls_and_maps() -> None:
    assert render("{{ a ? b ? 1 : 2 : 3 }}", {"a": True, "b": False}) == "2"
    assert render("{{ [x > 1 ? 'big' : 'small', 0] }}", {"x": 2}) == '["big",0]'
    assert render("{{ {'k': x ? 'y' : 'n'} }}", {"x": 0}) == '{"k":"n"}'


def test_null_coalescing_is_undefined_safe() -> None:
    assert render("{{ outputs.not_existing ?? '' }}", {"outputs": {}}) == ""
    assert render("{{ outputs.a.b.c ?? 'deep' }}", {"outputs": {}}) == "deep"
    assert render("{{ missing ?? other ?? 'third' }}", {}) == "third"
    assert render("{{ x ?? 'fallback' }}", {"x": None}) == "fallback"
    assert render("{{ x ??? 'fallback' }}", {"x": None}) == ""  # `???` replaces only undefined
    # `??` binds tighter than `|` (the reference's precedence 120 against 100): (x ?? 'fallback') | upper
    assert render("{{ x ?? 'fallback' | upper }}", {"x": "set"}) == "SET"


def test_word_operators_and_null() -> None:
    assert render("{{ taskrun.value equals 'value 2' }}", {"taskrun": {"value": "value 2"}}) == "true"
    assert render("{{ [1, 2] contains 2 }} {{ 'abc' contains 'z' }}", {}) == "true false"
    assert render("{{ x is null }} {{ x == null }}", {"x": None}) == "true true"
    template = "{% if n equals 1 %}one{% elseif n equals 2 %}two{% else %}many{% endif %}"
    assert [render(template, {"n": n}) for n in (1, 2, 3)] == ["one", "two", "many"]


def test_translation_leaves_text_strings_comments_and_raw_blocks_alone() -> None:
    for text in ("what? yes: no", "{{ 'a ? b : c' }}", "{# a ? b : c #}", "{% raw %}{{ a ? b : c }}{% endraw %}"):
        assert translate(text) == text
    assert render("{% verbatim %}{{ not rendered }}{% endverbatim %}", {}) == "{{ not rendered }}"
    assert render("{task.id}} > x", {}) == "{task.id}} > x"  # a stray `}}` is text


def test_an_undefined_variable_names_itself_and_the_expression() -> None:
    with pytest.raises(RenderError) as caught:
        render("{{inputs.invalid}}", {}, task_id="parent-seq")
    assert "Unable to find `inputs` used in the expression `{{inputs.invalid}}`" in str(caught.value)
    assert "task 'parent-seq'" in str(caught.value)


def test_undefined_values_stay_strict_when_used() -> None:
    for template in ("{{ outputs.a.b }}", "{% if outputs.a.b %}x{% endif %}", "{{ outputs.a == 1 }}"):
        with pytest.raises(RenderError, match="Unable to find `a`"):
            render(template, {"outputs": {}})
    assert render("{{ outputs.a.b is defined }}", {"outputs": {}}) == "false"


def test_map_keys_win_over_dict_methods() -> None:
    ctx = {"outputs": {"t": {"values": [1, 2], "items": "x", "keys": None}}}
    assert render("{{ outputs.t.values }} {{ outputs.t.items }}", ctx) == "[1,2] x"


def test_jq_filter_returns_a_list_and_parses_json_strings() -> None:
    value = '{"key": "my-key", "value": {"sub": 1}}'
    assert render("{{ v | jq('.key') }} {{ v | jq('.value.sub') }}", {"v": value}) == '["my-key"] [1]'
    assert render("{{ (v | jq('.value'))[0].sub }}", {"v": value}) == "1"
    with pytest.raises(RenderError, match="jq"):
        render("{{ v | jq('.[') }}", {"v": value})


def test_is_json_and_json_functions() -> None:
    assert render("{{ '[1]' is json }} {{ 'x' is json }} {{ {'a': 1} is json }}", {}) == "true false true"
    assert render("{{ json('{\"a\": 2}').a }} {{ fromJson('[3]')[0] }} {{ {'b': 1} | toJson }}", {}) == '2 3 {"b":1}'


def test_current_each_output_follows_the_value_path() -> None:
    outputs = {"o": {"v1": {"v2": {"v3": {"value": "deep"}}}}, "flat": {"a": {"value": "A"}}}
    ctx = {
        "outputs": outputs,
        "parents": [
            {"taskrun": {"value": "v2"}},
            {"taskrun": {"value": None}, "outputs": {"x": 1}},
            {"taskrun": {"value": "v1"}},
        ],
        "taskrun": {"value": "v3"},
    }
    assert render("{{ currentEachOutput(outputs.o).value }}", ctx) == "deep"
    flat = {"outputs": outputs, "parents": [], "taskrun": {"value": "a"}}
    assert render("{{ currentEachOutput(outputs['flat']).value }}", flat) == "A"
    with pytest.raises(RenderError, match="currentEachOutput"):
        render("{{ currentEachOutput(outputs.flat) }}", {**flat, "taskrun": {"value": "zz"}})


def test_error_logs_lists_the_failed_attempts() -> None:
    ctx = {"_errorLogs": [{"taskId": "failed", "message": "Task failure", "level": "ERROR"}]}
    template = "{%- for log in errorLogs() -%}\n- task: {{ log.taskId }}, message: {{ log.message }}\n{%- endfor -%}\n"
    assert render(template, ctx) == "- task: failed, message: Task failure"
    assert render("{{ errorLogs() }}", {}) == "[]"


def test_render_function_renders_a_variable_holding_a_template() -> None:
    ctx = {"vars": {"first": "1", "second": "{{ vars.first }} > 2"}}
    assert render("{{ render(vars.second) }} > 3", ctx) == "1 > 2 > 3"


def test_default_treats_null_and_empty_as_missing() -> None:
    assert (
        render("{{ a | default('d') }}|{{ b | default('d') }}|{{ c | default('d') }}", {"b": "", "c": None}) == "d|d|d"
    )
    assert render("{{ a | default('d') }}", {"a": "set"}) == "set"


def test_date_filter_takes_java_patterns_and_now_is_iso() -> None:
    ctx = {"d": "2024-03-05T07:08:09.123Z"}
    assert render("{{ d | date('yyyy-MM-dd') }} {{ d | date(\"HH:mm:ss.SSS'Z'\") }}", ctx) == "2024-03-05 07:08:09.123Z"
    # the reference's `iso`: microseconds and the offset (`Z` in UTC)
    assert render("{{ d | date }}", ctx) == "2024-03-05T07:08:09.123000Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", render("{{ now() }}", {}))


def test_the_sandbox_still_holds_after_translation() -> None:
    with pytest.raises(RenderError, match="unsafe"):
        render("{{ x ? ''.__class__.__mro__ : 1 }}", {"x": True})


def test_invalid_syntax_is_a_render_error_not_a_crash() -> None:
    template = "{{a == 'C' and {% for e in json(v) %}{{ e.key }}{% endfor %}== 'N'}}"
    with pytest.raises(RenderError, match="TemplateSyntaxError"):
        render(template, {"a": "C", "v": "{}"})
    with pytest.raises(RenderError):
        render("{{ a ? b }}", {"a": 1, "b": 2})
