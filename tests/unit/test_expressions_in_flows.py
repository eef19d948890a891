"""The reference's expressions where flows use them: ForEach values from `range`, loops, If conditions."""

from __future__ import annotations

from conveyor.common.state import StateType
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
