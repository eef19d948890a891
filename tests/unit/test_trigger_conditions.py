"""Conditions added to the Schedule and Flow triggers, pure.

PublicHoliday on the reference's test rows (PublicHolidayTest), its default country and its refusals; a
Schedule on working days only (`Not [PublicHoliday, Weekend]`, the reference's example) through
`decide.tick` with an injected clock. Expression, Not and Or over execution conditions in a Flow trigger
(the reference's `ConditionService` semantics: Not holds when none holds, Or when one does; an expression
that does not render does not hold), ExecutionOutputs, what an expression sees of the ended execution, the
index finding a trigger whose flows are named only inside an Or, and each trigger type refusing the other's
conditions, inside a Not too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from conveyor.common.errors import FlowError
from conveyor.common.flow import Flow
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution, Label
from conveyor.common.state import State, StateType
from conveyor.common.triggers.condition_base import Check, ConditionError
from conveyor.common.triggers.conditions import AnyCondition
from conveyor.common.triggers.flow import FlowTrigger
from conveyor.common.triggers.public_holiday import default_country
from conveyor.common.triggers.schedule import Schedule
from conveyor.scheduler.decide import first_state, tick
from conveyor.scheduler.flow_index import FlowTriggerIndex
from conveyor.scheduler.flow_match import check_of, matches

N = "io.kestra.plugin.core.condition."
ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyCondition)
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def holiday(date: str, **where: str) -> bool:
    condition = ADAPTER.validate_python({"type": f"{N}PublicHoliday", "date": date, **where})
    return bool(condition.holds(Check({}, ZoneInfo("UTC"))))


@pytest.mark.parametrize(
    ("date", "where", "expected"),
    [
        # PublicHolidayTest.valid / invalid
        ("2023-01-01", {}, True),  # New Year's Day (the default country)
        ("2023-07-14", {"country": "FR"}, True),
        ("2023-03-08", {"country": "DE", "subDivision": "BE"}, True),  # Berlin keeps Women's Day
        ("2023-01-02", {"country": "FR"}, False),
        ("2023-03-08", {"country": "DE"}, False),  # Germany as a whole does not
        # the subdivision as ISO 3166-2 in full, a date-time (its local date), a rendered country
        ("2023-03-08", {"country": "DE", "subDivision": "DE-BE"}, True),
        ("2023-07-14T23:30:00+02:00", {"country": "FR"}, True),
        ("2023-07-14", {"country": "{{ 'fr' | upper }}"}, True),
        ("2023-12-25", {"country": "gb"}, True),
    ],
)
def test_public_holiday_as_the_reference_says(date: str, where: dict[str, str], expected: bool) -> None:
    assert holiday(date, **where) is expected


def test_the_default_country_is_the_locales_else_us(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LC_ALL", "LC_TIME", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    assert default_country() == "US"
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert default_country() == "US"
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert default_country() == "FR" and holiday("2023-07-14") is True
    monkeypatch.setenv("LC_ALL", "de_DE@euro")
    assert default_country() == "DE"


def test_an_unknown_country_or_subdivision_is_refused_when_the_flow_loads_or_when_rendered() -> None:
    source = """id: f
namespace: ns
tasks:
  - {id: a, type: io.kestra.plugin.core.log.Log, message: hi}
triggers:
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "@daily"
    conditions:
      - {type: io.kestra.plugin.core.condition.PublicHoliday, country: XX}
"""
    with pytest.raises(FlowError) as caught:
        load_flow(source, "flow.yaml")
    (problem,) = [p.format("flow.yaml") for p in caught.value.problems]
    assert problem.startswith("flow.yaml:10:9: triggers[0].conditions[0]:") and "'XX'" in problem
    with pytest.raises(FlowError) as caught:
        load_flow(source.replace("country: XX", "{country: DE, subDivision: ZZ}"[1:-1]), "flow.yaml")
    assert "subDivision: 'ZZ'" in caught.value.problems[0].format("flow.yaml")
    with pytest.raises(ConditionError, match="'XX'"):
        holiday("2023-01-01", country="{{ 'XX' }}")


def schedule(cron: str, conditions: list[dict[str, Any]], timezone: str = "UTC") -> Schedule:
    return Schedule.model_validate(
        {"id": "s", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": cron, "timezone": timezone,
         "conditions": conditions}
    )  # fmt: skip


def test_a_schedule_on_working_days_skips_public_holidays_and_weekends() -> None:
    # the reference's example: Not [PublicHoliday FR, Weekend]; Christmas 2026 is a Friday, New Year a Friday
    working = [{"type": f"{N}Not", "conditions": [{"type": f"{N}PublicHoliday", "country": "FR"},
                                                   {"type": f"{N}Weekend"}]}]  # fmt: skip
    definition = schedule("0 9 * * *", working, "Europe/Paris")
    state = first_state("ns", "f", definition, datetime(2026, 12, 22, 12, tzinfo=UTC))
    fires = tick(state, definition, datetime(2027, 1, 5, 12, tzinfo=UTC)).fires
    assert [f.date.date().isoformat() for f in fires] == [
        "2026-12-23", "2026-12-24", "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-04",
        "2027-01-05",
    ]  # fmt: skip
    assert fires[1].next == datetime(2026, 12, 28, 9, tzinfo=PARIS)  # Thursday 24th -> Monday 28th
    assert fires[6].previous == datetime(2026, 12, 31, 9, tzinfo=PARIS)


def downstream(conditions: str, flow_id: str = "down") -> Flow:
    return load_flow(f"""
id: {flow_id}
namespace: team.b
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: x}}
triggers:
  - id: on_upstream
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
{conditions}
""")  # fmt: skip


def ended(flow_id: str = "up", state: StateType = StateType.SUCCESS, **extra: Any) -> Execution:
    return Execution(id="ex-1", namespace="team.a", flow_id=flow_id, state=State.new(NOW, state), **extra)


def fires(conditions: str, execution: Execution) -> bool:
    flow = downstream(conditions)
    trigger = flow.triggers[0]
    assert isinstance(trigger, FlowTrigger)
    return matches(trigger, execution, flow)


NOT_FAILED = f"""      - type: {N}Not
        conditions:
          - {{type: {N}ExecutionStatus, in: [FAILED, KILLED]}}"""
EITHER = f"""      - type: {N}Or
        conditions:
          - {{type: {N}ExecutionFlow, namespace: team.a, flowId: up}}
          - {{type: {N}ExecutionFlow, namespace: team.a, flowId: other}}"""
BIG = f"""      - {{type: {N}Expression, expression: "{{{{ trigger.outputs.rows > 10 and labels.env == 'prod' }}}}"}}"""
OUTPUTS = f"""      - {{type: {N}ExecutionOutputs, expression: "{{{{ trigger.outputs.rows < 10 }}}}"}}"""
NESTED = f"""      - type: {N}Not
        conditions:
          - type: {N}Or
            conditions:
              - {{type: {N}ExecutionLabels, labels: {{env: dev}}}}
              - {{type: {N}Expression, expression: "{{{{ execution.state == 'WARNING' }}}}"}}"""
PROD = [Label(key="env", value="prod")]


@pytest.mark.parametrize(
    ("conditions", "execution", "expected"),
    [
        (NOT_FAILED, ended(), True),
        (NOT_FAILED, ended(state=StateType.FAILED), False),
        (NOT_FAILED, ended(state=StateType.WARNING), True),
        (EITHER, ended(), True),
        (EITHER, ended("other"), True),
        (EITHER, ended("third"), False),
        (BIG, ended(outputs={"rows": 50}, labels=PROD), True),
        (BIG, ended(outputs={"rows": 5}, labels=PROD), False),
        (BIG, ended(outputs={"rows": 50}), False),  # no env label: `labels.env` is undefined, not 'prod'
        (OUTPUTS, ended(outputs={"rows": 5}), True),
        (OUTPUTS, ended(outputs={"rows": 50}), False),
        (OUTPUTS, ended(), False),  # no outputs: as the reference, false without evaluating
        (NESTED, ended(labels=PROD), True),
        (NESTED, ended(labels=[Label(key="env", value="dev")]), False),
        (NESTED, ended(state=StateType.WARNING, labels=PROD), False),
        # an expression that does not render does not hold (logged), it does not fail the loop
        (f'      - {{type: {N}Expression, expression: "{{{{ trigger.nope.deeper }}}}"}}', ended(), False),
        # the reference's VariableCondition alias
        ('      - {type: io.kestra.core.models.conditions.types.VariableCondition, expression: "{{ flow.id }}"}',
         ended(), True),
    ],
)  # fmt: skip
def test_expression_not_and_or_over_an_ended_execution(conditions: str, execution: Execution, expected: bool) -> None:
    assert fires(conditions, execution) is expected


def test_an_expression_sees_the_ended_execution_and_the_triggered_flow() -> None:
    flow = downstream(NOT_FAILED)
    execution = ended(inputs={"day": "2026-12-02"}, labels=PROD, outputs={"rows": 3}, original_id="first")
    context = check_of(execution, flow).context
    assert context["flow"] == {"id": "down", "namespace": "team.b", "revision": 1}  # the triggered flow's
    assert context["trigger"]["executionId"] == "ex-1" and context["trigger"]["outputs"] == {"rows": 3}
    assert context["execution"] == {
        "id": "ex-1", "namespace": "team.a", "flowId": "up", "state": "SUCCESS", "startDate": "2026-12-02T12:00:00Z",
        "endDate": "2026-12-02T12:00:00Z", "originalId": "first",
    }  # fmt: skip
    assert context["inputs"] == {"day": "2026-12-02"} and context["labels"] == {"env": "prod"}


def test_a_trigger_whose_flows_are_named_inside_an_or_is_a_candidate_for_each() -> None:
    index = FlowTriggerIndex()
    flow = downstream(EITHER)
    index.update("team.b/down", flow)
    assert [c.flow.id for c in index.candidates("team.a", "up")] == ["down"]
    assert [c.flow.id for c in index.candidates("team.a", "other")] == ["down"]


@pytest.mark.parametrize(
    ("trigger", "misplaced"),
    [
        (f"{{id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: '@daily', conditions: "
         f"[{{type: {N}Not, conditions: [{{type: {N}ExecutionStatus, in: [FAILED]}}]}}]}}", "ExecutionStatus"),
        (f"{{id: s, type: io.kestra.plugin.core.trigger.Flow, conditions: "
         f"[{{type: {N}Or, conditions: [{{type: {N}PublicHoliday, country: FR}}]}}]}}", "PublicHoliday"),
        (f"{{id: s, type: io.kestra.plugin.core.trigger.Flow, conditions: [{{type: {N}Weekend}}]}}", "Weekend"),
    ],
)  # fmt: skip
def test_a_misplaced_condition_is_refused_inside_a_not_or_an_or_too(trigger: str, misplaced: str) -> None:
    source = f"id: f\nnamespace: ns\ntasks:\n  - {{id: a, type: io.kestra.plugin.core.log.Log, message: hi}}\n" \
             f"triggers:\n  - {trigger}\n"  # fmt: skip
    with pytest.raises(FlowError) as caught:
        load_flow(source, "flow.yaml")
    (problem,) = [p.format("flow.yaml") for p in caught.value.problems]
    assert problem.startswith("flow.yaml:6:5: triggers[0]:") and misplaced in problem
