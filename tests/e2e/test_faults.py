"""Faults, end to end: processes killed mid-run, poison on every input topic, and Elasticsearch checked
against Kafka. Two executors, three workers and an indexer run as processes on the real servers.

`CONVEYOR_CHAOS_EXECUTIONS` sets how many executions the chaos test runs (300 by default; docs/operations.md
quotes a run of 1,000+)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from elasticsearch.helpers import scan
from pydantic import BaseModel

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import TaskRunChange
from conveyor.common.flow import Flow
from conveyor.common.kafka.consumer import Consumer, read_partitions_to_end
from conveyor.common.kafka.executions import ExecutionReader
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.state import StateType
from tests.e2e.conftest import Stack
from tests.messages import headers_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

EXECUTORS = 2
WORKERS = 3
ENV = {"CONVEYOR_EXECUTOR_WORKER_TIMEOUT": "8"}
CHAOS = int(os.environ.get("CONVEYOR_CHAOS_EXECUTIONS", "300"))
S = StateType


@dataclass(frozen=True)
class Case:
    flow: Flow
    state: StateType
    # The task runs every execution of the flow must hold, once each: (task id, ForEach value).
    runs: tuple[tuple[str, str | None], ...]


def case(source: str, state: StateType, *runs: tuple[str, str | None]) -> Case:
    return Case(load_flow(source), state, runs)


CASES = [
    case(
        """
id: sequence
namespace: conveyor.chaos
tasks:
  - {id: a, type: io.kestra.plugin.core.debug.Return, format: A}
  - {id: b, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.a.value }}B"}
  - {id: c, type: io.kestra.plugin.core.log.Log, message: "{{ outputs.b.value }}"}
""",
        S.SUCCESS,
        ("a", None),
        ("b", None),
        ("c", None),
    ),
    case(
        """
id: each
namespace: conveyor.chaos
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [x, y, z]
    tasks:
      - {id: item, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.value }}"}
""",
        S.SUCCESS,
        ("each", None),
        ("item", "x"),
        ("item", "y"),
        ("item", "z"),
    ),
    case(
        """
id: retried
namespace: conveyor.chaos
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    retry: {type: constant, interval: PT0.2S, maxAttempt: 5}
""",
        S.SUCCESS,
        ("flaky", None),
    ),
    case(
        """
id: failing
namespace: conveyor.chaos
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    retry: {type: constant, interval: PT0.1S, maxAttempt: 2}
errors:
  - {id: alert, type: io.kestra.plugin.core.log.Log, message: failed}
""",
        S.FAILED,
        ("boom", None),
        ("alert", None),
    ),
    case(
        """
id: sleepy
namespace: conveyor.chaos
tasks:
  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT1S}
  - {id: after, type: io.kestra.plugin.core.debug.Return, format: awake}
""",
        S.SUCCESS,
        ("nap", None),
        ("after", None),
    ),
]


class Snapshots:
    """Every execution with its task runs, from the `executions` and `taskruns` topics."""

    def __init__(self, stack: Stack) -> None:
        self._reader = ExecutionReader(stack.kafka)
        self.latest: dict[str, Execution] = {}

    def read(self) -> None:
        for execution_id in self._reader.poll(0.2):
            found = self._reader.execution(execution_id)
            if found is not None:
                self.latest[execution_id] = found

    def ended(self, ids: list[str]) -> int:
        self.read()
        return sum(1 for i in ids if self._reader.assembler.complete(i))

    def wait(self, ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.ended(ids) < len(ids) and time.monotonic() < deadline:
            pass

    def close(self) -> None:
        self._reader.close()


def submit(stack: Stack, count: int, cases: list[Case] = CASES) -> dict[str, Case]:
    producer = Producer(stack.kafka)
    topic = Topics.of(stack.kafka).execution_events
    submitted = {}
    for i in range(count):
        chosen = cases[i % len(cases)]
        created = new_execution(chosen.flow)
        producer.send(topic, created.execution_id, created.to_json())
        submitted[created.execution_id] = chosen
    producer.flush()
    return submitted


def check_executions(snapshots: Snapshots, submitted: dict[str, Case]) -> int:
    """Every execution ended as expected with each expected task run once and no attempt left running;
    returns how many attempts were lost with a worker (and resubmitted)."""
    lost = 0
    for execution_id, expected in submitted.items():
        execution = snapshots.latest.get(execution_id)
        assert execution is not None and execution.state.terminal, f"{execution_id} did not end: {execution}"
        assert execution.state.current == expected.state, execution.model_dump_json(indent=1)
        keys = Counter((run.task_id, run.value) for run in execution.task_run_list)
        assert keys == Counter(expected.runs), f"{execution_id}: {keys}"
        for run in execution.task_run_list:
            assert run.state.terminal, run
            assert all(a.state.terminal for a in run.attempts), run
            if run.attempts:
                assert run.attempts[-1].state.current == run.state.current or run.state.current == S.FAILED, run
            lost += sum(1 for a in run.attempts if a.error and a.error.endswith(" lost"))
    return lost


def kafka_taskruns(stack: Stack) -> dict[str, tuple[int, str]]:
    """Task run id -> (revision, state) as the compacted `taskruns` topic holds them, read to its end."""
    latest: dict[str, tuple[int, str]] = {}
    for change in _records(stack, Topics.of(stack.kafka).taskruns, TaskRunChange):
        known = latest.get(change.task_run.id)
        if known is None or change.revision >= known[0]:
            latest[change.task_run.id] = (change.revision, change.task_run.state.current.value)
    return latest


def es_taskruns(stack: Stack) -> list[tuple[str, int, str]]:
    client = elasticsearch_client(stack.es)
    try:
        index = f"{stack.es.index_prefix}-taskruns"
        client.indices.refresh(index=index, ignore_unavailable=True)
        return [
            (hit["_id"], hit["_version"], hit["_source"]["state"]["current"])
            for hit in scan(client, index=index, query={"query": {"match_all": {}}, "version": True}, size=2000)
        ]
    finally:
        client.close()


M = TypeVar("M", bound=BaseModel)


def _records(stack: Stack, topic: str, model: type[M]) -> Iterator[M]:
    """Every record of a topic, read to its end, as `model`; records that are not one (poison, dead-lettered by
    the services) left out."""
    partitions = [(topic, p) for p in range(stack.kafka.partitions)]
    for msg in read_partitions_to_end(stack.kafka, partitions):
        try:
            yield model.model_validate_json(msg.value or b"")
        except ValueError:
            continue


def kafka_executions(stack: Stack) -> dict[str, tuple[int, str, int]]:
    """Execution id -> (revision, state, task runs) as the compacted topics hold them, read to their ends: the
    latest `executions` header of each, and how many distinct task runs of it the `taskruns` topic holds (the
    header's own `taskRunCount` must agree). Records that are no execution (poison, dead-lettered by the
    indexer) are left out, as the indexer leaves them."""
    topics = Topics.of(stack.kafka)
    headers: dict[str, Execution] = {}
    for execution in _records(stack, topics.executions, Execution):
        known = headers.get(execution.id)
        if known is None or execution.revision >= known.revision:
            headers[execution.id] = execution
    runs: dict[str, set[str]] = {}
    for change in _records(stack, topics.taskruns, TaskRunChange):
        runs.setdefault(change.task_run.execution_id, set()).add(change.task_run.id)
    result = {}
    for execution_id, header in headers.items():
        count = len(runs.get(execution_id, ()))
        if header.state.terminal:
            assert header.task_run_count == count, f"{execution_id}: header says {header.task_run_count}, {count} runs"
        result[execution_id] = (header.revision, header.state.current.value, count)
    return result


def es_executions(stack: Stack) -> list[tuple[str, int, str, int]]:
    """(id, version, state, taskRunCount) of every execution document, across the monthly indices."""
    client = elasticsearch_client(stack.es)
    try:
        index = f"{stack.es.index_prefix}-executions"
        client.indices.refresh(index=index, ignore_unavailable=True)
        query = {"query": {"match_all": {}}, "version": True, "_source": ["state.current", "taskRunCount"]}
        return [
            (hit["_id"], hit["_version"], hit["_source"]["state"]["current"], hit["_source"]["taskRunCount"])
            # the index appears with its first document: none yet is no execution yet
            for hit in scan(client, index=index, query=query, size=2000, ignore_unavailable=True)
        ]
    finally:
        client.close()


def check_executions_index_matches_kafka(stack: Stack, timeout: float = 120.0) -> int:
    """The executions index holds exactly the executions of the compacted topics: every one that ended in Kafka
    is there with the same revision, state and task-run count; none missing, none extra, none twice."""
    want = kafka_executions(stack)

    def indexed() -> bool:
        return {i: (v, s, n) for i, v, s, n in es_executions(stack)} == want

    stack.poll(indexed, timeout=timeout, every=1.0)
    docs = es_executions(stack)
    assert len(docs) == len({i for i, _, _, _ in docs}), "an execution is indexed twice"
    got = {i: (v, s, n) for i, v, s, n in docs}
    missing, extra = want.keys() - got.keys(), got.keys() - want.keys()
    assert not missing and not extra, f"executions: {len(missing)} missing, {len(extra)} extra"
    assert got == want, [(i, want[i], got[i]) for i in want if got[i] != want[i]][:5]
    return len(docs)


def check_index_matches_kafka(stack: Stack, timeout: float = 120.0) -> int:
    """Elasticsearch holds exactly the task runs Kafka holds: same ids, same states and revisions, no duplicate;
    and exactly its executions (`check_executions_index_matches_kafka`). Returns how many task runs."""
    check_executions_index_matches_kafka(stack, timeout)
    expected = kafka_taskruns(stack)
    want = {run_id: (revision, state) for run_id, (revision, state) in expected.items()}

    def indexed() -> bool:
        return {i: (v, s) for i, v, s in es_taskruns(stack)} == want

    stack.poll(indexed, timeout=timeout, every=1.0)
    docs = es_taskruns(stack)
    assert len(docs) == len({i for i, _, _ in docs}), "a task run is indexed twice"
    got = {i: (v, s) for i, v, s in docs}
    missing, extra = want.keys() - got.keys(), got.keys() - want.keys()
    assert not missing and not extra, f"{len(missing)} missing, {len(extra)} extra"
    assert got == want, [i for i in want if got[i] != want[i]][:5]
    return len(docs)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return result


def busiest_worker(snapshots: Snapshots, stack: Stack) -> str:
    snapshots.read()
    running = Counter(
        run.attempts[-1].worker_id
        for execution in snapshots.latest.values()
        for run in execution.task_run_list
        if run.attempts and run.attempts[-1].state.current == S.RUNNING and run.attempts[-1].worker_id in stack.procs
    )
    return running.most_common(1)[0][0] if running else "worker-1"


def test_chaos_kill_a_worker_and_an_executor_mid_run(e2e_stack: Stack) -> None:
    snapshots = Snapshots(e2e_stack)
    try:
        first = submit(e2e_stack, CHAOS // 2)
        ids = list(first)
        wait_for(lambda: snapshots.ended(ids) >= len(ids) // 4, 180, "a quarter of the first wave")
        victim = busiest_worker(snapshots, e2e_stack)  # one that runs attempts right now, so they are lost
        e2e_stack.kill(victim)
        e2e_stack.kill("executor")
        e2e_stack.start("worker-4", "worker", {"CONVEYOR_WORKER_WORKER_ID": "worker-4"})
        e2e_stack.start("executor-3", "executor")
        second = submit(e2e_stack, CHAOS - CHAOS // 2)
        submitted = {**first, **second}
        snapshots.wait(list(submitted), timeout=600)
        lost = check_executions(snapshots, submitted)
        indexed = check_index_matches_kafka(e2e_stack)
    finally:
        snapshots.close()
    print(f"chaos: {len(submitted)} executions, {indexed} task runs indexed, {lost} attempts lost and resubmitted")


def test_indexer_killed_mid_stream_indexes_everything_once_restarted(e2e_stack: Stack) -> None:
    snapshots = Snapshots(e2e_stack)
    try:
        submitted = submit(e2e_stack, 60, CASES[:2])
        ids = list(submitted)
        wait_for(lambda: snapshots.ended(ids) >= 10, 120, "some executions ended")
        e2e_stack.kill("indexer")
        snapshots.wait(ids, timeout=300)
        e2e_stack.start("indexer-2", "indexer")
        check_executions(snapshots, submitted)
        check_index_matches_kafka(e2e_stack)
    finally:
        snapshots.close()


def test_worker_sigterm_finishes_the_long_task_and_nothing_is_resubmitted(e2e_stack: Stack) -> None:
    long = case(
        "id: long\nnamespace: conveyor.chaos\ntasks:\n"
        "  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT4S}\n",
        S.SUCCESS,
        ("nap", None),
    )
    snapshots = Snapshots(e2e_stack)
    try:
        (execution_id,) = submit(e2e_stack, 1, [long])

        def running_on() -> str | None:
            snapshots.read()
            execution = snapshots.latest.get(execution_id)
            runs = execution.task_run_list if execution else []
            if runs and runs[0].attempts and runs[0].attempts[0].state.current == S.RUNNING:
                return runs[0].attempts[0].worker_id
            return None

        worker = wait_for(running_on, 60, "the long task to run")
        e2e_stack.stop(worker)  # SIGTERM, then wait for the process to end (it drains first)
        e2e_stack.start(f"{worker}-again", "worker", {"CONVEYOR_WORKER_WORKER_ID": f"{worker}-again"})
        snapshots.wait([execution_id], timeout=60)
        check_executions(snapshots, {execution_id: long})
        (run,) = snapshots.latest[execution_id].task_run_list
        assert [(a.state.current, a.worker_id) for a in run.attempts] == [(S.SUCCESS, worker)]
    finally:
        snapshots.close()
    log = (e2e_stack.logs / f"{worker}.log").read_text()
    assert "draining 1 running attempts" in log and "abandoning" not in log


def test_poison_on_every_input_goes_to_dead_letter_with_a_reason(e2e_stack: Stack) -> None:
    topics = Topics.of(e2e_stack.kafka)
    producer = Producer(e2e_stack.kafka)
    poison = {
        (topics.execution_events, b"poison-event"): b"{not json",
        (topics.execution_events, b"invalid-event"): b'{"kind": "TaskResult", "executionId": "x"}',
        (topics.worker_jobs, b"poison-job"): b"\x00\x01",
        (topics.worker_jobs, b"invalid-job"): b'{"taskRun": {}, "attempt": "one"}',
        (topics.taskruns, b"poison-taskrun"): b"[1, 2",
        (topics.executions, b"invalid-execution"): b'{"id": 42}',
    }
    for (topic, key), value in poison.items():
        producer.send(topic, key, value)
    producer.flush()
    dead = Consumer(e2e_stack.kafka, f"test-dead-{time.monotonic_ns()}", [topics.dead_letter])
    letters: dict[bytes, dict[str, bytes]] = {}
    try:

        def arrived() -> bool:
            for msg in dead.consume(100, 0.5):
                letters[msg.key or b""] = headers_of(msg)
            return {key for _, key in poison} <= letters.keys()

        wait_for(arrived, 60, "every poison message on the dead-letter topic")
    finally:
        dead.close()
    services = {key: headers["conveyor.service"] for key, headers in letters.items()}
    assert services[b"poison-event"] == services[b"invalid-event"] == b"executor"
    assert services[b"poison-job"] == services[b"invalid-job"] == b"worker"
    assert services[b"poison-taskrun"] == services[b"invalid-execution"] == b"indexer"
    for key in services:
        assert letters[key]["conveyor.reason"], key
        assert letters[key]["conveyor.topic"].startswith(topics.prefix.encode())
