"""Labels (issue 16): `conveyor run --label`, the `system.correlationId` label, labels on task-run documents and
the `labels` filter of task-run searches, the Labels task."""

from __future__ import annotations

import base64

import pytest

from conveyor.cli.run import parse_label_args
from conveyor.common.errors import FlowError
from conveyor.common.events import TaskRunChange
from conveyor.common.launch import CORRELATION_ID, new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Label, TaskRun
from conveyor.common.state import State, StateType
from conveyor.indexer.documents import taskrun_document
from conveyor.indexer.dsl import taskrun_filters
from conveyor.indexer.filters import TaskRunFilters
from tests.unit.sim import Sim, run_flow

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


# ---- the Labels task (io.kestra.plugin.core.execution.Labels), run by the executor


def _labels(sim: Sim) -> dict[str, str]:
    return {label.key: label.value for label in sim.ex.labels}


LABELS = "io.kestra.plugin.core.execution.Labels"


def _flow(*tasks: str) -> str:
    return "id: lt\nnamespace: t\nlabels: {team: data}\ntasks:\n" + "".join(f"  - {t}\n" for t in tasks)


def test_the_labels_task_adds_and_overwrites_labels_and_what_follows_sees_them() -> None:
    sim = run_flow(
        _flow(
            f"{{id: set, type: {LABELS}, labels: {{team: ml, 'k{{{{ 1 + 1 }}}}': '{{{{ flow.id }}}}'}}}}",
            "{id: read, type: io.kestra.plugin.core.debug.Return, format: '{{ labels.team }}/{{ labels.k2 }}'}",
        ),
        labels={"env": "prod"},
    )
    assert sim.current() == StateType.SUCCESS
    assert list(_labels(sim).items()) == [("team", "ml"), ("env", "prod"), (CORRELATION_ID, sim.ex.id), ("k2", "lt")]
    assert sim.runs("read")[0].outputs == {"value": "ml/lt"}
    (run,) = sim.runs("set")
    assert [a.state.current for a in run.attempts] == [StateType.SUCCESS]
    assert not sim.jobs and all(job.task_run.task_id != "set" for d in sim.decisions for job in d.jobs)
    assert sim.header().labels == sim.ex.labels  # the header (what the executions index gets) carries them


def test_the_labels_task_takes_a_list_or_a_json_string() -> None:
    sim = run_flow(
        _flow(
            f"{{id: a, type: {LABELS}, labels: [{{key: x, value: 1}}, {{key: y, value: true}}]}}",
            "{id: b, type: io.kestra.plugin.core.execution.Labels, labels: '{{ {\"z\": 3.5} | json }}'}",
        )
    )
    assert sim.current() == StateType.SUCCESS, sim.executor_logs
    assert {k: v for k, v in _labels(sim).items() if k in "xyz"} == {"x": "1", "y": "true", "z": "3.5"}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            "{system.correlationId: mine}",
            "System labels can only be set by Conveyor itself, offending label: system.correlationId=mine",
        ),
        ("'not json'", "is not a JSON object of labels"),
        ("{k: '{{ nope }}'}", "nope"),
    ],
)
def test_a_system_key_or_a_bad_value_fails_the_task_and_changes_nothing(labels: str, message: str) -> None:
    sim = run_flow(_flow(f"{{id: set, type: io.kestra.plugin.core.execution.Labels, labels: {labels}}}"))
    assert sim.current() == StateType.FAILED
    (run,) = sim.runs("set")
    assert run.attempts[-1].error is not None and message in run.attempts[-1].error
    assert any(message in line["message"] for line in sim.log_lines if line.get("taskId") == "set")
    assert _labels(sim) == {"team": "data", CORRELATION_ID: sim.ex.id}


def test_a_failing_labels_task_is_retried_and_allow_failure_applies() -> None:
    flow = _flow(
        "{id: set, type: io.kestra.plugin.core.execution.Labels, allowFailure: true, labels: {system.x: y},"
        " retry: {type: constant, interval: PT1S, maxAttempt: 3}}"
    )
    sim = run_flow(flow)
    (run,) = sim.runs("set")
    assert len(run.attempts) == 3 and run.state.current == StateType.WARNING
    assert sim.current() == StateType.WARNING


def test_a_label_value_read_from_a_secret_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN", base64.b64encode(b"s3cr3t").decode())
    sim = run_flow(
        _flow("{id: set, type: io.kestra.plugin.core.execution.Labels, labels: {t: \"{{ secret('TOKEN') }}\"}}")
    )
    assert _labels(sim)["t"] == "******"


@pytest.mark.parametrize(
    ("labels", "field"),
    [("[{key: a}]", "labels"), ("[{key: a, value: b, other: c}]", "labels"), ("", "labels")],
)
def test_a_malformed_labels_property_is_refused_when_the_flow_loads(labels: str, field: str) -> None:
    prop = f", labels: {labels}" if labels else ""
    with pytest.raises(FlowError, match=field):
        load_flow(_flow(f"{{id: set, type: io.kestra.plugin.core.execution.Labels{prop}}}"))


def test_a_labels_task_cannot_be_in_a_working_directory() -> None:
    with pytest.raises(FlowError, match="only tasks a worker runs"):
        load_flow(
            _flow(
                "{id: wd, type: io.kestra.plugin.core.flow.WorkingDirectory, tasks: "
                "[{id: set, type: io.kestra.plugin.core.execution.Labels, labels: {a: b}}]}"
            )
        )
