"""The Kestra conformance corpus through the pure executor core (`tests.unit.sim`): every case's `expect`
and `inferred` blocks hold for the execution `decide` produces with the simulated runners."""

from __future__ import annotations

import pytest

from tests.conformance import Case, check, load_cases
from tests.unit.sim import run_flow

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_case_holds_in_the_executor_core(case: Case) -> None:
    sim = run_flow(case.flow.read_text(), case.inputs, typed=case.inputs_mode != "raw", labels=case.labels)
    execution = sim.ex
    assert execution.state.terminal
    problems = check(case, execution.to_dict(), sim.log_lines, inferred=True, now=execution.state.start_date)
    assert not problems, "\n".join(problems)


def test_the_corpus_has_fifty_cases() -> None:
    assert len(CASES) == 88 and len({c.label for c in CASES}) == 88


def test_task_type_renders_the_canonical_name_for_an_alias() -> None:
    flow = (
        "id: alias\nnamespace: conveyor.tests\ntasks:\n"
        "  - {id: t, type: io.kestra.core.tasks.debugs.Return, format: '{{ task.type }} {{ task.id }}'}\n"
    )
    sim = run_flow(flow)
    assert sim.ex.task_run_list[0].outputs == {"value": "io.kestra.plugin.core.debug.Return t"}
