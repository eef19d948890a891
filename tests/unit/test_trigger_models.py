"""A flow's `triggers:` are validated like tasks: the reference's type names and aliases, and an unknown
type or property is `file:line:col: field: message`; `{{ trigger.* }}` renders in a task's context."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.events import TaskRunChange
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import ExecutionTrigger, TaskRun
from conveyor.common.render import render
from conveyor.common.triggers import registry
from conveyor.common.triggers.flow import FlowTrigger
from conveyor.common.triggers.schedule import RecoverMissedSchedules, Schedule
from conveyor.common.triggers.webhook import Webhook
from conveyor.executor.context import base_context
from conveyor.indexer.documents import execution_document, taskrun_document
from conveyor.indexer.dsl import execution_search, taskrun_search
from conveyor.indexer.filters import ExecutionFilters, Paging, TaskRunFilters

HEAD = """id: f
namespace: conveyor.tests
tasks:
  - {id: a, type: io.kestra.plugin.core.log.Log, message: hi}
triggers:
"""


def problems(triggers: str) -> list[str]:
    with pytest.raises(FlowError) as caught:
        load_flow(HEAD + triggers, "flow.yaml")
    return [p.format("flow.yaml") for p in caught.value.problems]


def test_the_reference_type_names_and_aliases_load() -> None:
    flow = load_flow(
        HEAD
        + """  - {id: s, type: io.kestra.core.models.triggers.types.Schedule, cron: "@daily",
       recoverMissedSchedules: NONE}
  - {id: w, type: io.kestra.plugin.core.trigger.Webhook, key: abc}
  - id: fl
    type: io.kestra.plugin.core.trigger.Flow
    labels: [{key: a, value: b}]
    stopAfter: [FAILED]
    conditions:
      - {type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: other, flowId: up}
      - {type: io.kestra.core.models.conditions.types.ExecutionStatusCondition, in: [SUCCESS]}
    preconditions:
      flows: [{namespace: other, flowId: up, states: [SUCCESS]}]
      where: [{id: ns, filters: [{field: NAMESPACE, type: STARTS_WITH, value: oth}]}]
"""
    )
    schedule, webhook, flow_trigger = flow.triggers
    assert isinstance(schedule, Schedule) and schedule.recover_missed_schedules is RecoverMissedSchedules.NONE
    assert isinstance(webhook, Webhook) and webhook.key == "abc"
    assert isinstance(flow_trigger, FlowTrigger) and flow_trigger.labels == {"a": "b"}
    assert flow_trigger.preconditions is not None and flow_trigger.preconditions.flows[0].flow_id == "up"
    assert "io.kestra.plugin.core.trigger.Schedule" in registry.known_types()


def test_an_unknown_trigger_type_names_file_line_column_and_the_known_types() -> None:
    (problem,) = problems("  - id: x\n    type: not.a.real.Type\n")
    assert problem.startswith("flow.yaml:7:11: triggers[0].type: unknown trigger type 'not.a.real.Type'; known types:")
    assert "io.kestra.plugin.core.trigger.Schedule" in problem


def test_an_unknown_property_and_a_bad_cron_are_named() -> None:
    (problem,) = problems("  - {id: x, type: io.kestra.plugin.core.trigger.Schedule, cron: '@daily', cronn: x}\n")
    assert problem == "flow.yaml:6:82: triggers[0].cronn: unknown property 'cronn'"
    (bad,) = problems("  - {id: x, type: io.kestra.plugin.core.trigger.Schedule, cron: '* * *'}\n")
    assert bad.startswith("flow.yaml:6:5: triggers[0]:") and "has 3 fields, expected 5" in bad


def test_an_unknown_condition_type_is_named_as_a_condition() -> None:
    (problem,) = problems(
        "  - id: x\n    type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n      - {type: nope.Condition}\n"
    )
    assert problem.startswith("flow.yaml:9:16: triggers[0].conditions[0].type: unknown condition type 'nope.Condition'")


def test_duplicate_trigger_ids_are_refused() -> None:
    (problem,) = problems(
        "  - {id: x, type: io.kestra.plugin.core.trigger.Webhook, key: a}\n"
        "  - {id: x, type: io.kestra.plugin.core.trigger.Webhook, key: b}\n"
    )
    assert "duplicate trigger id 'x'" in problem


def test_trigger_variables_render_in_a_task() -> None:
    flow = load_flow(HEAD + "  - {id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: '@hourly'}\n")
    execution = new_execution(flow).execution
    date = datetime(2026, 12, 2, 10, tzinfo=UTC)
    execution.trigger = ExecutionTrigger(id="s", type="io.kestra.plugin.core.trigger.Schedule", date=date)
    context = base_context(execution, flow)
    assert render("{{ trigger.date }}", context) == "2026-12-02T10:00:00Z"


def test_executions_and_task_runs_filter_by_trigger_id() -> None:
    body = execution_search(ExecutionFilters(trigger_id="every"), Paging())
    assert {"term": {"trigger.id": "every"}} in body["query"]["bool"]["filter"]
    runs = taskrun_search(TaskRunFilters(trigger_id="every"), Paging())
    assert {"term": {"triggerId": "every"}} in runs["query"]["bool"]["filter"]


def test_a_task_run_document_carries_its_execution_trigger_id() -> None:
    flow = load_flow(HEAD + "  - {id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: '@hourly'}\n")
    execution = new_execution(flow).execution
    run = TaskRun(id="r", execution_id=execution.id, namespace="n", flow_id="f", task_id="a", state=execution.state)
    raw = b'{"revision":3,"taskRun":%b,"triggerId":"s"}' % run.to_json()
    change = TaskRunChange.model_validate_json(raw)
    assert taskrun_document(change)["triggerId"] == "s"
    assert "triggerId" not in taskrun_document(TaskRunChange(revision=1, task_run=run))


def test_the_triggering_execution_is_indexed_for_flow_triggers_and_children_not_for_others() -> None:
    flow = load_flow(HEAD + "  - {id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: '@hourly'}\n")
    execution = new_execution(flow).execution
    by_flow = ExecutionTrigger(id="after_up", type="io.kestra.plugin.core.trigger.Flow",
                               variables={"executionId": "up-1", "flowId": "up", "state": "SUCCESS"})  # fmt: skip
    child = ExecutionTrigger(id="call", type="io.kestra.plugin.core.flow.Subflow",
                             variables={"executionId": "parent-1", "taskRunId": "tr"})  # fmt: skip
    hook = ExecutionTrigger(id="hook", type="io.kestra.plugin.core.trigger.Webhook", variables={"body": {"a": 1}})
    scheduled = ExecutionTrigger(id="s", type="io.kestra.plugin.core.trigger.Schedule", date=execution.state.start_date)
    found = {
        trigger.id: execution_document(execution.model_copy(update={"trigger": trigger})).get("triggerExecutionId")
        for trigger in (by_flow, child, hook, scheduled)
    }
    assert found == {"after_up": "up-1", "call": "parent-1", "hook": None, "s": None}
