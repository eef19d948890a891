"""Labels (issue 16): `conveyor run --label`, the `system.correlationId` label, labels on task-run documents and
the `labels` filter of task-run searches."""

from __future__ import annotations

import pytest

from conveyor.cli.run import parse_label_args
from conveyor.common.events import TaskRunChange
from conveyor.common.launch import CORRELATION_ID, new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Label, TaskRun
from conveyor.common.state import State
from conveyor.indexer.documents import taskrun_document
from conveyor.indexer.dsl import taskrun_filters
from conveyor.indexer.filters import TaskRunFilters
from tests.unit.sim import run_flow

FLOW = load_flow("""
id: labelled
namespace: t
labels: {team: data}
tasks:
  - {id: r, type: io.kestra.plugin.core.debug.Return, format: "{{ labels.team }} {{ labels.system.correlationId }}"}
""")


def test_run_labels_join_the_flow_labels_and_the_correlation_id_is_the_execution_id() -> None:
    created = new_execution(FLOW, labels=parse_label_args(["env=prod", "team=ml"]), execution_id="ex1")
    labels = {label.key: label.value for label in created.execution.labels}
    assert labels == {"team": "ml", "env": "prod", CORRELATION_ID: "ex1"}


def test_labels_render_in_expressions() -> None:
    sim = run_flow(FLOW.model_dump_json(by_alias=True, exclude_defaults=True))
    assert sim.runs("r")[0].outputs == {"value": f"data {sim.ex.id}"}


def test_a_bad_or_system_label_argument_is_the_user_s_error() -> None:
    with pytest.raises(ValueError, match="--label expects KEY=VALUE"):
        parse_label_args(["nope"])
    with pytest.raises(ValueError, match="set by the system"):
        parse_label_args(["system.correlationId=x"])


def test_task_run_documents_carry_the_labels_and_filter_by_them() -> None:
    created = new_execution(FLOW, labels={"env": "prod"}, execution_id="ex1")
    start = created.execution.state.start_date
    assert start is not None
    run = TaskRun(id="tr", execution_id="ex1", namespace="t", flow_id="labelled", task_id="r", state=State.new(start))
    doc = taskrun_document(TaskRunChange(revision=1, task_run=run, labels=created.execution.labels))
    assert {"key": "env", "value": "prod"} in doc["labels"]
    assert Label(key=CORRELATION_ID, value="ex1").to_dict() in doc["labels"]
    (clause,) = taskrun_filters(TaskRunFilters(labels={"env": "prod"}))
    assert clause["nested"]["path"] == "labels"
    assert clause["nested"]["query"]["bool"]["filter"] == [
        {"term": {"labels.key": "env"}},
        {"term": {"labels.value": "prod"}},
    ]
