"""What the executor itself renders with the new context: `secret()` in a flowable's condition (its own
process's backend), a missing secret failing the flowable's task run naming it, and `tasks.<id>.state` in
the contexts it sends to workers."""

from __future__ import annotations

import base64

import pytest

from conveyor.common.state import StateType as S
from tests.unit.sim import run_flow

HEAD = "id: f\nnamespace: ns\ntasks:\n"


def test_an_if_condition_reads_a_secret_in_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_MODE", base64.b64encode(b"on").decode())
    sim = run_flow(
        HEAD
        + """\
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ secret('MODE') == 'on' }}"
    then: [{id: on_yes, type: io.kestra.plugin.core.debug.Return, format: "y"}]
    else: [{id: on_no, type: io.kestra.plugin.core.debug.Return, format: "n"}]
"""
    )
    assert sim.current() == S.SUCCESS
    assert [r.task_id for r in sim.ex.task_run_list] == ["check", "on_yes"]


def test_a_missing_secret_in_a_condition_fails_the_flowable_naming_it() -> None:
    sim = run_flow(
        HEAD
        + """\
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ secret('NOT_THERE_ANYWHERE') }}"
    then: [{id: on_yes, type: io.kestra.plugin.core.debug.Return, format: "y"}]
"""
    )
    assert sim.current() == S.FAILED
    assert any("secret 'NOT_THERE_ANYWHERE' is not defined" in e.message for e in sim.executor_logs)


def test_tasks_state_is_the_state_of_the_task_named() -> None:
    sim = run_flow(
        HEAD
        + """\
  - {id: a, type: io.kestra.plugin.core.debug.Return, format: "A"}
  - {id: b, type: io.kestra.plugin.core.debug.Return, format: "{{ tasks.a.state }}"}
"""
    )
    assert sim.runs("b")[0].outputs == {"value": "SUCCESS"}


def test_a_render_error_quoting_a_secret_value_masks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.common.errors import RenderError
    from conveyor.common.render import render

    monkeypatch.setenv("SECRET_PIN", base64.b64encode(b"not-a-number-4711").decode())
    with pytest.raises(RenderError) as caught:
        render("{{ secret('PIN') | number }}", {}, "t")
    assert str(caught.value).endswith("FilterError: number: cannot parse '******' as a number")
    with pytest.raises(RenderError) as caught:
        render("{{ secret('PIN') | date('yyyy') }}", {}, "t")
    assert "cannot parse '******' as a date" in str(caught.value)
