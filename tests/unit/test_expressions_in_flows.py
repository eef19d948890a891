"""The reference's expressions where flows use them: ForEach values from `range`, loops, If conditions."""

from __future__ import annotations

from conveyor.common.state import StateType
from tests.cli import ROOT
from tests.unit.sim import run_flow


def test_foreach_over_an_inclusive_range_runs_once_per_value() -> None:
    sim = run_flow("""id: r
namespace: conveyor.tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 3) }}"
    tasks:
      - {id: ret, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.value }}"}
""")
    assert sim.current() == StateType.SUCCESS
    assert sorted(r.value or "" for r in sim.runs("ret")) == ["1", "2", "3"]


def test_if_with_the_reference_filters_in_its_condition() -> None:
    sim = run_flow("""id: c
namespace: conveyor.tests
variables:
  when: "2024-02-24T22:00:00Z"
tasks:
  - id: cond
    type: io.kestra.plugin.core.flow.If
    condition: >-
      {{ (vars.when | dateAdd(1, 'DAYS') | date('EEEE', timeZone='Europe/Paris')) == 'Sunday'
      and (vars.block[missing].child ?? true) }}
    then:
      - {id: hit, type: io.kestra.plugin.core.debug.Return, format: "{% for i in range(0, 2) %}{{ i }}{% endfor %}"}
""")
    assert sim.current() == StateType.SUCCESS
    [hit] = sim.runs("hit")
    assert hit.outputs == {"value": "012"}


def test_the_expressions_example_renders_what_the_reference_would() -> None:
    sim = run_flow((ROOT / "examples" / "expressions.yaml").read_text())
    assert sim.current() == StateType.SUCCESS
    assert sorted(r.outputs["value"] for r in sim.runs("square") if r.outputs) == ["1", "4", "9"]
    [dates] = sim.runs("dates")
    assert dates.outputs == {"value": "2024-03-24 1708812000 2001-07-24"}
    [strings] = sim.runs("strings")
    assert strings.outputs == {"value": "hello-conveyor-world on Saturday | c | jane doe | it'\\''s | 1,234.57"}
    [lists] = sim.runs("lists")
    assert lists.outputs == {"value": '["c","b","a"] [[1,2],[3,4],[5]] [1,2,3] 255 no block 012'}
