"""The batch: newest version per entity, size and age bounds, revoked partitions forgotten."""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor.common.deletion import Keep
from conveyor.common.events import LogEntry, TaskRunChange
from conveyor.common.kafka.message import Message
from conveyor.common.model import TaskRun
from conveyor.common.state import State, StateHistory, StateType
from conveyor.indexer.batch import Batch

T0 = datetime(2024, 5, 1, tzinfo=UTC)
KINDS = {"p.taskruns": "taskruns", "p.logs": "logs", "p.executions": "executions"}


def message(topic: str, partition: int, offset: int, value: bytes | None) -> Message:
    return Message(topic, partition, offset, None, value, timestamp_ms=int(T0.timestamp() * 1000))


def change(tr_id: str, revision: int, current: str = "RUNNING") -> bytes:
    history = [StateHistory(state=StateType.CREATED, date=T0)]
    tr = TaskRun(
        id=tr_id,
        execution_id="e",
        namespace="n",
        flow_id="f",
        task_id="t",
        state=State(current=StateType(current), histories=history),
    )
    return TaskRunChange(revision=revision, task_run=tr).to_json()


def log_line(text: str) -> bytes:
    return LogEntry(namespace="n", flow_id="f", execution_id="e", level="INFO", message=text, timestamp=T0).to_json()


def batch_of(*messages: Message) -> Batch:
    batch = Batch("cv", KINDS)
    for m in messages:
        batch.add(m, now=0.0)
    return batch


def test_only_the_newest_revision_of_each_entity_is_written_whatever_the_order() -> None:
    batch = batch_of(
        message("p.taskruns", 0, 0, change("a", 2)),
        message("p.taskruns", 1, 0, change("b", 1)),
        message("p.taskruns", 0, 1, change("a", 5, "SUCCESS")),
        message("p.taskruns", 0, 2, change("a", 3)),  # a late, older revision
    )
    pending = batch.pending()
    assert [(p.action.id, p.action.version) for p in pending] == [("a", 5), ("b", 1)]
    assert pending[0].action.source["state"]["current"] == "SUCCESS"
    assert pending[0].message.offset == 1  # the message to dead-letter if this document is rejected
    assert len(batch) == 4  # every message's offset is committed, superseded or not


def test_on_equal_revisions_the_later_message_wins() -> None:
    batch = batch_of(
        message("p.taskruns", 0, 0, change("a", 2, "RUNNING")),
        message("p.taskruns", 0, 1, change("a", 2, "SUCCESS")),
    )
    [only] = batch.pending()
    assert only.action.source["state"]["current"] == "SUCCESS"


def test_log_lines_are_never_merged_and_undecodable_messages_are_set_aside() -> None:
    batch = batch_of(
        message("p.logs", 0, 0, log_line("one")),
        message("p.logs", 0, 1, b"\xff garbage"),
        message("p.logs", 0, 2, log_line("one")),
        message("p.executions", 0, 0, None),  # tombstone: nothing to index, nothing to dead-letter
    )
    assert [p.action.id for p in batch.pending()] == ["p.logs-0-0", "p.logs-0-2"]
    [bad] = batch.undecodable()
    assert bad.message.offset == 1 and "cannot decode a logs message" in bad.reason
    assert len(batch) == 4


def test_only_the_newest_decodable_version_is_validated_and_errors_are_set_aside() -> None:
    import orjson

    unfit = orjson.loads(change("a", 1))
    unfit["taskRun"]["state"] = "not a state"  # JSON with an id and a revision, but no valid task run
    newest_unfit = orjson.loads(change("b", 4))
    newest_unfit["taskRun"]["state"] = "not a state"
    batch = batch_of(
        message("p.taskruns", 0, 0, orjson.dumps(unfit)),  # superseded below: never validated
        message("p.taskruns", 0, 1, change("a", 2, "SUCCESS")),
        message("p.taskruns", 0, 2, change("b", 3)),
        message("p.taskruns", 0, 3, orjson.dumps(newest_unfit)),  # b's newest: refused, its older one written
        message("p.taskruns", 0, 4, b'{"revision": 1}'),  # no entity to tell: decoded at once, refused
    )
    assert [(p.action.id, p.action.version) for p in batch.pending()] == [("a", 2), ("b", 3)]
    assert sorted(u.message.offset for u in batch.undecodable()) == [3, 4]
    assert len(batch) == 5


def test_a_batch_is_due_when_full_or_old_enough() -> None:
    batch = Batch("cv", KINDS)
    assert not batch.due(100.0, max_size=2, max_age=0.5)
    batch.add(message("p.logs", 0, 0, log_line("x")), now=10.0)
    assert not batch.due(10.4, max_size=2, max_age=0.5)
    assert batch.due(10.5, max_size=2, max_age=0.5)
    batch.add(message("p.logs", 0, 1, log_line("y")), now=10.1)
    assert batch.due(10.1, max_size=2, max_age=0.5)
    batch.clear()
    assert len(batch) == 0 and batch.opened_at is None


def test_revoked_partitions_are_dropped_from_the_batch() -> None:
    batch = batch_of(
        message("p.taskruns", 0, 0, change("a", 1)),
        message("p.taskruns", 1, 0, change("b", 1)),
        message("p.logs", 1, 0, log_line("x")),
    )
    assert batch.drop_partitions({("p.taskruns", 1)}) == 1
    assert [p.action.id for p in batch.pending()] == ["a", "p.logs-1-0"]
    assert batch.drop_partitions({("p.taskruns", 0), ("p.logs", 1)}) == 2
    assert len(batch) == 0 and batch.opened_at is None


def test_a_deletions_tombstones_name_the_executions_and_what_goes_with_them() -> None:
    def tombstone(key: str, offset: int, mark: bytes | None) -> Message:
        headers = () if mark is None else (("conveyor.delete", mark),)
        return Message("p.executions", 0, offset, key.encode(), None, headers)

    batch = batch_of(
        tombstone("a", 0, b"logs,metrics"),
        tombstone("b", 1, b""),  # logs and metrics kept
        tombstone("c", 2, None),  # a tombstone that no deletion wrote: nothing to delete
        tombstone("d", 3, b"logs"),
        message("p.taskruns", 0, 0, None),  # a task run's tombstone: its execution's tombstone deletes it
        Message("p.logs", 0, 5, b"e", None, (("conveyor.delete", b"logs"),)),  # only `executions` counts
    )
    assert batch.deletions("p.executions") == {(True, True): ["a"], (False, False): ["b"], (True, False): ["d"]}
    assert batch.pending() == []


def test_what_a_deletion_keeps_is_left_out_of_its_header() -> None:
    assert Keep().header() == b"logs,metrics"
    assert Keep(logs=True).header() == b"metrics"
    assert Keep(logs=True, metrics=True, storage=True).header() == b""
