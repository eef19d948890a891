"""Flow triggers, pure: which ended executions a trigger fires for (`scheduler/flow_match.py`), the index
that finds the candidates without scanning every flow (`scheduler/flow_index.py`), and the creation a firing
makes (derived id, `trigger` block, rendered inputs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.common.flow import Flow
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution, Label
from conveyor.common.state import State, StateType
from conveyor.common.triggers.flow import FlowTrigger
from conveyor.scheduler.flow_index import Candidate, FlowTriggerIndex
from conveyor.scheduler.flow_match import matches, trigger_variables
from conveyor.scheduler.flow_triggers import triggered_execution

S = StateType
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
FLOW_TYPE = "io.kestra.plugin.core.trigger.Flow"
COND = "conditions:\n  - {type: io.kestra.plugin.core.condition."
OLD_COND = "conditions:\n  - {type: io.kestra.core.models.conditions.types."


def downstream(trigger_yaml: str, flow_id: str = "down", namespace: str = "team.b", extra: str = "") -> Flow:
    lines = [] if trigger_yaml.strip() == "{}" else trigger_yaml.strip().splitlines()
    body = "\n".join("    " + line for line in lines)
    return load_flow(
        f"""
id: {flow_id}
namespace: {namespace}
{extra}
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: x
triggers:
  - id: on_upstream
    type: {FLOW_TYPE}
{body}
"""
    )


def trigger_of(flow: Flow) -> FlowTrigger:
    trigger = flow.triggers[0]
    assert isinstance(trigger, FlowTrigger)
    return trigger


def ended(
    namespace: str = "team.a",
    flow_id: str = "up",
    state: StateType = S.SUCCESS,
    labels: dict[str, str] | None = None,
    outputs: dict[str, object] | None = None,
) -> Execution:
    return Execution(
        id="ex-1",
        namespace=namespace,
        flow_id=flow_id,
        state=State.new(NOW, state),
        labels=[Label(key=k, value=v) for k, v in (labels or {}).items()],
        outputs=outputs,
    )


CASES = [
    # (trigger properties, ended execution, fires?)
    ("states: [SUCCESS]", ended(), True),
    ("states: [FAILED]", ended(), False),
    ("{}", ended(state=S.KILLED), True),  # default states: every terminal state
    ("{}", ended(state=S.RUNNING), False),
    (
        COND + "ExecutionFlow, namespace: team.a, flowId: up}",
        ended(),
        True,
    ),
    (
        COND + "ExecutionFlow, namespace: team.a, flowId: other}",
        ended(),
        False,
    ),
    (COND + "ExecutionNamespace, namespace: team.a}", ended(), True),
    (COND + "ExecutionNamespace, namespace: team}", ended(), False),
    (
        COND + "ExecutionNamespace, namespace: team, comparison: PREFIX}",
        ended(),
        True,
    ),
    (
        OLD_COND + "ExecutionNamespaceCondition, namespace: te, prefix: true}",
        ended(),
        True,
    ),
    (
        COND + "ExecutionNamespace, namespace: .a, comparison: SUFFIX}",
        ended(),
        True,
    ),
    (COND + "ExecutionStatus, in: [SUCCESS, WARNING]}", ended(), True),
    (COND + "ExecutionStatus, notIn: [SUCCESS]}", ended(), False),
    (
        COND + "ExecutionLabels, labels: {env: prod}}",
        ended(labels={"env": "prod", "x": "y"}),
        True,
    ),
    (
        COND + "ExecutionLabels, labels: {env: prod}}",
        ended(labels={"env": "dev"}),
        False,
    ),
    ("preconditions:\n  flows:\n    - {namespace: team.a, flowId: up}", ended(), True),
    ("preconditions:\n  flows:\n    - {namespace: team.a, flowId: up}", ended(state=S.FAILED), False),  # SUCCESS
    ("preconditions:\n  flows:\n    - {namespace: team.a, flowId: up, states: [FAILED]}", ended(state=S.FAILED), True),
    (
        "preconditions:\n  flows:\n    - {namespace: team.a, flowId: up, labels: {env: prod}}",
        ended(labels={"env": "dev"}),
        False,
    ),
    (
        "preconditions:\n  flows:\n    - {namespace: team.a, flowId: up}\n    - {namespace: team.a, flowId: other}",
        ended(),
        False,  # several upstream flows: not supported, never fires
    ),
    (
        "preconditions:\n  where:\n    - id: w\n      filters:\n"
        "        - {field: NAMESPACE, type: STARTS_WITH, value: team}\n"
        "        - {field: FLOW_ID, type: IN, values: [up, down]}",
        ended(),
        True,
    ),
    (
        "preconditions:\n  where:\n    - id: w\n      filters:\n"
        "        - {field: STATE, type: EQUAL_TO, value: FAILED}\n"
        "        - {field: FLOW_ID, type: ENDS_WITH, value: p}",
        ended(),
        False,
    ),
    (
        "preconditions:\n  where:\n    - id: w\n      operand: OR\n      filters:\n"
        "        - {field: STATE, type: EQUAL_TO, value: FAILED}\n"
        "        - {field: FLOW_ID, type: CONTAINS, value: u}",
        ended(),
        True,
    ),
    (
        "preconditions:\n  where:\n    - id: w\n      filters:\n"
        "        - {field: NAMESPACE, type: NOT_IN, values: [team.a]}",
        ended(),
        False,
    ),
    ("disabled: true", ended(), False),
]


@pytest.mark.parametrize(("properties", "execution", "fires"), CASES)
def test_matching(properties: str, execution: Execution, fires: bool) -> None:
    assert matches(trigger_of(downstream(properties)), execution) is fires


def index_of(*flows: Flow) -> FlowTriggerIndex:
    index = FlowTriggerIndex()
    for flow in flows:
        index.update(f"{flow.namespace}/{flow.id}", flow)
    return index


def test_the_index_files_triggers_by_flow_namespace_or_any() -> None:
    by_flow = downstream(COND + "ExecutionFlow, namespace: team.a, flowId: up}", "f1")
    by_pre = downstream("preconditions:\n  flows:\n    - {namespace: team.a, flowId: other}", "f2")
    by_ns = downstream(COND + "ExecutionNamespace, namespace: team.c}", "f3")
    anything = downstream("states: [FAILED]", "f4")
    index = index_of(by_flow, by_pre, by_ns, anything)
    assert len(index) == 4

    def ids(namespace: str, flow_id: str) -> list[str]:
        return sorted(c.flow.id for c in index.candidates(namespace, flow_id))

    assert ids("team.a", "up") == ["f1", "f4"]
    assert ids("team.a", "other") == ["f2", "f4"]
    assert ids("team.c", "x") == ["f3", "f4"]
    assert ids("elsewhere", "x") == ["f4"]


def test_many_unrelated_flows_are_not_candidates() -> None:
    flows = [
        downstream(
            COND + f"ExecutionFlow, namespace: team.a, flowId: u{i}}}",
            f"d{i}",
        )
        for i in range(500)
    ]
    index = index_of(*flows)
    assert [c.flow.id for c in index.candidates("team.a", "u7")] == ["d7"]


def test_deleting_disabling_or_redeploying_a_flow_updates_its_triggers() -> None:
    flow = downstream("{}", "d")
    index = index_of(flow)
    assert len(index.candidates("x", "y")) == 1
    index.update("team.b/d", None)  # deleted
    assert index.candidates("x", "y") == [] and len(index) == 0
    index.update("team.b/d", downstream("{}", "d", extra="disabled: true"))
    assert index.candidates("x", "y") == []
    index.update("team.b/d", downstream("disabled: true", "d"))  # the trigger itself disabled
    assert index.candidates("x", "y") == []
    index.update("team.b/d", flow)
    index.update("team.b/d", flow)  # the same flow again: filed once
    assert len(index.candidates("x", "y")) == 1


def test_a_firing_makes_a_derived_execution_with_the_trigger_block() -> None:
    flow = downstream(
        'inputs:\n  previous: "{{ trigger.outputs.value }}"\nlabels:\n  started-by: flow-trigger',
        extra="inputs:\n  - {id: previous, type: STRING}",
    )
    execution = ended(outputs={"value": "from A"})
    variables = trigger_variables(execution)
    assert variables == {
        "executionId": "ex-1",
        "namespace": "team.a",
        "flowId": "up",
        "state": "SUCCESS",
        "outputs": {"value": "from A"},
    }
    first = triggered_execution(Candidate(flow, trigger_of(flow)), execution, variables)
    again = triggered_execution(Candidate(flow, trigger_of(flow)), execution, variables)
    assert first.execution_id == again.execution_id and first.event_id == again.event_id
    other = triggered_execution(
        Candidate(flow, trigger_of(flow)), execution.model_copy(update={"id": "ex-2"}), variables
    )
    assert other.execution_id != first.execution_id
    created = first.execution
    assert created.inputs == {"previous": "from A"}
    assert {"key": "started-by", "value": "flow-trigger"} in [label.to_dict() for label in created.labels]
    assert created.trigger is not None and created.trigger.id == "on_upstream" and created.trigger.type == FLOW_TYPE
    assert created.trigger.variables["executionId"] == "ex-1"


def test_a_flow_never_triggers_itself() -> None:
    """A trigger whose conditions match its own flow's executions (here: any SUCCESS in its namespace) is not
    a candidate for them, as in the reference (`FlowService.removeUnwanted`): no endless loop. It still fires
    for the other flows it matches."""
    looping = downstream("states: [SUCCESS]", "loop", namespace="team.a")
    index = index_of(looping)
    assert index.candidates("team.a", "loop") == []
    assert [c.flow.id for c in index.candidates("team.a", "up")] == ["loop"]
    by_name = downstream(COND + "ExecutionFlow, namespace: team.a, flowId: me}", "me", namespace="team.a")
    assert index_of(by_name).candidates("team.a", "me") == []
