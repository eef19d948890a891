"""The documents the indexer writes: shape, duration in milliseconds, monthly index, bulk action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor.common.events import LogEntry, MetricRecord, TaskRunChange
from conveyor.common.model import Attempt, Execution, Label, MetricEntry, TaskRun
from conveyor.common.state import State, StateHistory, StateType
from conveyor.indexer.documents import decode, duration_ms, execution_action, taskrun_action
from conveyor.indexer.errors import DocumentError
from conveyor.indexer.templates import monthly_index

T0 = datetime(2024, 5, 31, 23, 59, 59, 500_000, tzinfo=UTC)


def state(*steps: tuple[StateType, float]) -> State:
    return State(
        current=steps[-1][0],
        histories=[StateHistory(state=s, date=T0 + timedelta(seconds=at)) for s, at in steps],
    )


def task_run(**kw: object) -> TaskRun:
    fields: dict[str, object] = dict(
        id="tr1",
        execution_id="ex1",
        namespace="company.team",
        flow_id="hello",
        task_id="say",
        state=state((StateType.CREATED, 0), (StateType.RUNNING, 0.25), (StateType.SUCCESS, 1.7505)),
    )
    fields.update(kw)
    return TaskRun.model_validate(fields)


def test_taskrun_document_is_the_taskrun_json_plus_counts_worker_and_revision() -> None:
    tr = task_run(
        value="a",
        iteration=2,
        outputs={"value": 42},
        attempts=[
            Attempt(state=state((StateType.RUNNING, 0), (StateType.FAILED, 1)), worker_id="w1"),
            Attempt(state=state((StateType.RUNNING, 1), (StateType.SUCCESS, 2)), worker_id="w2"),
        ],
    )
    action = taskrun_action("cv", TaskRunChange(revision=7, task_run=tr))

    doc = action.source
    assert doc["id"] == "tr1" and doc["executionId"] == "ex1" and doc["taskId"] == "say"
    assert doc["namespace"] == "company.team" and doc["flowId"] == "hello"
    assert doc["value"] == "a" and doc["iteration"] == 2 and doc["outputs"] == {"value": 42}
    assert doc["attemptsCount"] == 2
    assert doc["workerId"] == "w2"
    assert doc["revision"] == 7
    assert len(doc["attempts"]) == 2
    assert doc["state"]["current"] == "SUCCESS"
    assert doc["state"]["startDate"].startswith("2024-05-31T23:59:59.5")
    assert doc["state"]["endDate"].startswith("2024-06-01T00:00:01.25")
    assert doc["state"]["duration"] == "PT1.7505S"  # the reference's ISO string, kept
    assert doc["state"]["durationMs"] == 1750  # the indexed number (rounded to the millisecond)
    assert action.kind == "taskruns" and action.id == "tr1" and action.version == 7


def test_running_taskrun_has_no_end_date_and_no_worker_yet() -> None:
    tr = task_run(state=state((StateType.CREATED, 0)))
    doc = taskrun_action("cv", TaskRunChange(revision=1, task_run=tr)).source
    assert "endDate" not in doc["state"]
    assert doc["state"]["durationMs"] == 0
    assert doc["attemptsCount"] == 0
    assert "workerId" not in doc


def test_duration_ms_rounds_to_the_millisecond() -> None:
    assert duration_ms(state((StateType.CREATED, 0), (StateType.SUCCESS, 0.0016))) == 2
    assert duration_ms(State()) is None


def test_the_month_comes_from_the_first_state_date_and_never_moves() -> None:
    # Started on the last second of May, finished in June: every revision stays in the May index.
    created = task_run(state=state((StateType.CREATED, 0)))
    done = task_run()
    first = taskrun_action("cv", TaskRunChange(revision=1, task_run=created))
    last = taskrun_action("cv", TaskRunChange(revision=9, task_run=done))
    assert first.index == last.index == "cv-taskruns-2024.05"


def test_monthly_index_is_utc() -> None:
    # 1 June 01:30 in Paris is still 31 May in UTC.
    paris = datetime(2024, 6, 1, 1, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert monthly_index("cv", "logs", paris) == "cv-logs-2024.05"
    assert monthly_index("cv", "logs", datetime(2024, 1, 2)) == "cv-logs-2024.01"  # naive: taken as UTC


def test_execution_document_drops_the_taskrun_list_and_counts_it() -> None:
    ex = Execution(
        id="ex1",
        namespace="company.team",
        flow_id="hello",
        flow_revision=3,
        state=state((StateType.CREATED, 0), (StateType.RUNNING, 1)),
        task_run_list=[task_run(id="a"), task_run(id="b")],
        labels=[Label(key="env", value="prod")],
        inputs={"x": 1},
        revision=4,
    )
    action = execution_action("cv", ex)
    doc = action.source
    assert "taskRunList" not in doc
    assert doc["taskRunCount"] == 2
    assert doc["flowRevision"] == 3 and doc["revision"] == 4
    assert doc["labels"] == [{"key": "env", "value": "prod"}]
    assert doc["metadata"]["attemptNumber"] == 1
    assert doc["state"]["durationMs"] == 1000
    assert (action.index, action.id, action.version) == ("cv-executions-2024.05", "ex1", 4)
    assert action.bulk() == {
        "_op_type": "index",
        "_index": "cv-executions-2024.05",
        "_id": "ex1",
        "version": 4,
        "version_type": "external",
        "_source": doc,
    }


def test_an_entity_without_state_history_cannot_be_placed() -> None:
    with pytest.raises(DocumentError, match="no state history"):
        taskrun_action("cv", TaskRunChange(revision=1, task_run=task_run(state=State())))


def test_logs_and_metrics_get_deterministic_ids_and_no_version() -> None:
    entry = LogEntry(
        namespace="n",
        flow_id="f",
        execution_id="e",
        task_id="t",
        task_run_id="tr",
        level="INFO",
        message="hi",
        timestamp=T0,
    )
    action = decode("cv", "logs", entry.to_json(), topic="p.logs", partition=1, offset=42)
    assert action is not None
    assert (action.index, action.id, action.version) == ("cv-logs-2024.05", "p.logs-1-42", None)
    assert action.source["message"] == "hi" and action.source["level"] == "INFO"
    assert (action.source["partition"], action.source["offset"]) == (1, 42)
    assert "version" not in action.bulk()

    record = MetricRecord(
        namespace="n",
        flow_id="f",
        execution_id="e",
        task_id="t",
        task_run_id="tr",
        entry=MetricEntry(type="timer", name="took", value=1.5, tags={"k": "v"}),
    )
    july = int(datetime(2024, 7, 3, tzinfo=UTC).timestamp() * 1000)
    metric = decode("cv", "metrics", record.to_json(), topic="p.metrics", partition=0, offset=7, timestamp_ms=july)
    assert metric is not None
    assert (metric.index, metric.id) == ("cv-metrics-2024.07", "p.metrics-0-7")
    assert metric.source == {
        "namespace": "n",
        "flowId": "f",
        "executionId": "e",
        "taskId": "t",
        "taskRunId": "tr",
        "type": "timer",
        "name": "took",
        "value": 1.5,
        "tags": {"k": "v"},
        "timestamp": "2024-07-03T00:00:00+00:00",
    }


def test_undecodable_messages_raise_document_error_and_tombstones_are_skipped() -> None:
    with pytest.raises(DocumentError, match="cannot decode a taskruns message"):
        decode("cv", "taskruns", b"not json", topic="p.taskruns", partition=0, offset=0)
    with pytest.raises(DocumentError, match="taskRun"):
        decode("cv", "taskruns", b'{"revision": 1}', topic="p.taskruns", partition=0, offset=0)
    assert decode("cv", "executions", None, topic="p.executions", partition=0, offset=0) is None
