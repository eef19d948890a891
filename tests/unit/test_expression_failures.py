"""A failing expression fails its task run with the message, wherever it is rendered: a task's property on a
worker, an If condition in the executor; an over-limit jq fails fast instead of holding the executor."""

from __future__ import annotations

import re

import pytest

from conveyor.common import regexps
from conveyor.common.errors import RenderError
from conveyor.common.jq import JqError, Limits, jq
from conveyor.common.render import render
from conveyor.common.state import StateType
from conveyor.worker.attempt import Attempt
from conveyor.worker.testing import make_job
from tests.unit.sim import run_flow

RETURN = "io.kestra.plugin.core.debug.Return"
HUGE = "[range(20000000)]"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' | escapeChar('foo') }}", "escapeChar: type must be one of single, double, shell"),
        ("{{ 'July' | date('yyyy', existingFormat='dd MMMM') }}", "cannot parse 'July' with the format 'dd MMMM'"),
        ("{{ 5 | chunk(2) }}", "chunk: a list is needed"),
        (f"{{{{ 1 | jq('{HUGE}') }}}}", "CONVEYOR_JQ_MAX_RESULT"),
        ("{{ range(0, 10000000) }}", "range: 10000001 values is more than the 100000 allowed"),
        ("{{ fromJson('{not: json}') }}", "fromJson: not JSON"),
    ],
    ids=["escapeChar", "date", "chunk", "jq-limit", "range-limit", "fromJson"],
)
def test_a_failing_filter_fails_the_task_run_with_its_message(template: str, message: str) -> None:
    result = Attempt(
        make_job({"id": "ret", "type": RETURN, "format": template}, {}), worker_id="w1", emit_log=lambda _: None
    ).run()
    assert result is not None and result.state is StateType.FAILED
    assert result.error is not None and message in result.error and "task 'ret'" in result.error


def test_an_over_limit_jq_in_an_if_condition_fails_that_task_run_and_the_execution() -> None:
    sim = run_flow(f"""id: big
namespace: conveyor.tests
tasks:
  - id: cond
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ 1 | jq('{HUGE}') | length > 0 }}}}"
    then:
      - {{id: never, type: io.kestra.plugin.core.log.Log, message: x}}
""")
    assert sim.current() == StateType.FAILED
    [cond] = [r for r in sim.ex.task_run_list if r.task_id == "cond"]
    assert cond.state.current == StateType.FAILED
    [entry] = sim.executor_logs
    assert entry.task_id == "cond" and "CONVEYOR_JQ_MAX_RESULT" in entry.message


def test_jq_stops_at_the_most_values_it_may_produce() -> None:
    with pytest.raises(JqError, match=r"produced more than 1000 values \(limit CONVEYOR_JQ_MAX_RESULT"):
        jq(None, "[range(5000)]", Limits(timeout=60, max_result=1000))
    assert jq(None, "[range(5)] | length", Limits(timeout=60, max_result=1000)) == [5]


def test_jq_stops_past_its_time_limit() -> None:
    with pytest.raises(JqError, match=r"ran longer than 1e-06 s \(limit CONVEYOR_JQ_TIMEOUT"):
        jq(None, "[range(100000)] | length", Limits(timeout=1e-6, max_result=10**9))


def test_a_limit_applies_to_one_run_only() -> None:
    with pytest.raises(JqError):
        jq(None, "[range(50)]", Limits(timeout=60, max_result=10))
    assert jq({"a": list(range(50))}, ".a | length") == [50]


def test_a_regular_expression_is_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_JQ_TIMEOUT", "0.000001")
    regexps._timeout.cache_clear()
    try:
        with pytest.raises(RenderError, match=r"replace: .* \(limit CONVEYOR_JQ_TIMEOUT exceeded\)"):
            render(r"{{ text | replace({'(\w+\s?)*$': 'x'}, regexp=true) }}", {"text": "ab " * 20000 + "!"})
    finally:
        regexps._timeout.cache_clear()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'a' | replace({'(': 'x'}, regexp=true) }}", "replace: invalid regular expression '('"),
        ("{{ 'a' | jq('test(\"(\")') }}", "jq: test: invalid regular expression '('"),
    ],
)
def test_an_invalid_regular_expression_names_itself(template: str, message: str) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        render(template, {})
