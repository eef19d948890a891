"""The executor's imperative shell: consume execution events, apply `decide`, publish what it says.

Per batch, inside one Kafka transaction (exactly-once): for each execution that changed, its header on
`executions`, the task runs that changed on `taskruns`, the matching records of `executor-state` (one per
task run plus the header: `executor.records`), worker jobs, kill signals, executor log lines, and the
consumed offsets. Without transactions it is at-least-once, and duplicate events are recognised by their
ids (and every rule is idempotent). Retry delays and kill grace periods are timers kept in the state and
in a heap here; a due timer becomes a `TimerFired` event applied in the same loop.

Control requests (kill, restart) come on their own topic, co-partitioned with `execution-events` (the
executor's group uses the range assignor, so partition p of both topics has one owner), and each batch
applies them before the events: a kill never waits behind a backlog of task results.

An ended execution's records get tombstones, but its final `executions` header carries the pinned flow
(header `conveyor.flow`): `RestartRequested` brings both back with the task runs (`executor.restore`).
New executions a decision creates (flow-level retry) are produced to `execution-events` in the same
transaction.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from conveyor.common import metrics
from conveyor.common.clock import utcnow
from conveyor.common.concurrency import SlotReleased, flow_key
from conveyor.common.events import (
    DELETE_HEADER,
    EVENT_ADAPTER,
    FLOW_HEADER,
    PAUSED_FLOW_HEADER,
    ChangeStateRequested,
    DeleteRequested,
    Event,
    ExecutionCreated,
    RestartRequested,
    RestoreTaskRuns,
    TimerFired,
)
from conveyor.common.flow import Flow
from conveyor.common.kafka import names
from conveyor.common.kafka.consumer import Consumer, Message, Partitions, read_partitions_to_end
from conveyor.common.kafka.deadletter import dead_letter
from conveyor.common.kafka.errors import KafkaError, RetryableKafkaError
from conveyor.common.kafka.lookup import EXECUTION_HEADER
from conveyor.common.kafka.loop import run_until_stopped
from conveyor.common.kafka.outbox import Outbox
from conveyor.common.kafka.producer import Commit, Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import TaskRun
from conveyor.common.settings import ExecutorSettings, KafkaSettings
from conveyor.common.state import StateType
from conveyor.common.tasks import registry
from conveyor.executor import memory, records, restart, restore
from conveyor.executor.decide import Decision, decide
from conveyor.executor.deployed import DeployedFlows
from conveyor.executor.env import Env
from conveyor.executor.keeper import SlotKeeper
from conveyor.executor.kv import KvTable
from conveyor.executor.liveness import WorkerWatch, lost_events, running_on
from conveyor.executor.plan import Plan
from conveyor.executor.state import ExecutionState

log = logging.getLogger(__name__)

# Ended executions whose final revision is remembered, to drop a restart that carries an older snapshot.
ENDED_MEMORY = 10_000
# The final revision remembered for a deleted execution: above any, so that no restart brings it back.
DELETED = 2**62
# Distinct flow definitions (JSON) whose validated flow and plan the executor keeps for reuse.
FLOW_MEMORY = 256
# The executor's fetch queue is kept short, so that a control request fetched behind a backlog of events
# reaches a batch soon (librdkafka's default queues up to 64 MB per consumer).
QUEUE_KBYTES = 2048
# linger.ms of the executor's transactional producer (see `Executor.__init__`).
TRANSACTION_LINGER_MS = 2
# While the previous batch commits, how often (s) the executor looks for more events to add to the next one.
COMMIT_POLL = 0.001
# A batch takes no more events once it holds this many records and task-run changes (a decision may start
# 1,000 task runs: a job, a task-run change and a state record each): the events consumed past it are given
# back (sought to) for the next batch. This bounds the records one transaction carries, and so its duration
# (a transaction the broker times out is aborted and fenced, and the same batch would be decided again) and
# the memory it holds.
OUTBOX_MOST = 10_000


@dataclass
class _Pending:
    """What one batch will publish for one execution."""

    state: ExecutionState
    partition: int
    # The task runs that changed, as the JSON their last decision made (never as objects: a batch may start
    # 100,000 task runs, and ~35 objects each would be held until it is published).
    changed: dict[str, bytes] = field(default_factory=dict)
    header: bool = False
    new: bool = False  # its flow record is to be written
    restored: list[TaskRun] = field(default_factory=list)  # task runs brought back: state records only


class Executor:
    def __init__(self, kafka: KafkaSettings, settings: ExecutorSettings | None = None) -> None:
        self.settings = settings or ExecutorSettings()
        self.kafka = kafka
        self.topics = Topics.of(kafka)
        self.states: dict[str, ExecutionState] = {}
        self.partition: dict[str, int] = {}
        self._plans: dict[str, tuple[Plan, bytes]] = {}  # execution id -> its plan and its flow's JSON
        self._plan_cache: OrderedDict[bytes, Plan] = OrderedDict()  # one plan per flow JSON
        self._ended: OrderedDict[str, int] = OrderedDict()  # execution id -> final revision
        self._timers: list[tuple[Any, str, str]] = []  # heap of (due, execution id, timer id)
        self._assignment: list[int] = []
        registry.resolve()
        txn = names.EXECUTOR_TRANSACTIONS
        suffix = self.settings.executor_id or uuid.uuid4().hex  # stable: a restart fences its predecessor
        transactional_id = txn.id(kafka.topic_prefix, suffix) if self.settings.transactions else None
        # A killed executor's open transaction holds back read_committed readers of its partitions (workers,
        # the next owner's state recovery) until the broker aborts it: keep that wait short. A transaction
        # begun right after the last one's commit is often refused for a moment (CONCURRENT_TRANSACTIONS,
        # while the broker writes the commit markers): retry after 5 ms, not librdkafka's 100 ms (which
        # made every step of an execution wait 10-20 ms under a steady load; the Java client uses 20 ms).
        # A transaction's records are sent by its commit at the latest (it flushes): a linger here costs no
        # latency and makes a batch's records fewer, larger requests, so it keeps 2 ms whatever
        # CONVEYOR_KAFKA_LINGER_MS says for the producers without transactions.
        extra: dict[str, Any] = {"transaction.timeout.ms": 15_000, "retry.backoff.ms": 5}
        if transactional_id:
            extra["linger.ms"] = TRANSACTION_LINGER_MS
        self.producer = Producer(kafka, transactional_id=transactional_id, extra=extra)
        # The range assignor gives partition p of both topics to one executor (co-partitioned topics).
        self.consumer = Consumer(
            kafka,
            group_id=names.EXECUTOR.id(kafka.topic_prefix),
            topics=[self.topics.control, self.topics.execution_events],
            on_assign=self._assigned,
            on_revoke=self._revoked,
            transactional=self.settings.transactions,
            extra={"partition.assignment.strategy": "range", "queued.max.messages.kbytes": QUEUE_KBYTES},
        )
        self.watch = WorkerWatch(kafka, self.topics.worker_heartbeats, self.settings.worker_timeout)
        self.flows = DeployedFlows(kafka)  # the flows Subflow and ForEachItem start
        self.kv = KvTable(kafka)  # what `kv()` reads in flowable properties, caught up once per fetch at most
        self._recheck: set[str] = set()  # executions to check against the lost workers
        self._recheck_all = False
        self._rewind = False  # a failed batch was rolled back: reload the state, consume again from the offsets
        self.out = Outbox()  # the batch's records, handed to the producer once its transaction has begun
        self._commit: Commit | None = None  # the previous batch's commit, while it runs
        self._batch: dict[str, _Pending] | None = None  # the batch being consumed and decided
        self._trim = False  # a large execution ended: give the freed memory back after the batch
        self._changes = 0  # task-run changes the batch being decided will publish
        self.ready = threading.Event()

    # ---- partitions
    def _assigned(self, partitions: Partitions) -> None:
        self._moved()
        numbers = sorted({p for topic, p in partitions if topic == self.topics.execution_events})
        self._load(numbers)
        self._assignment = sorted({*self._assignment, *numbers})
        self.ready.set()

    def _load(self, numbers: list[int]) -> None:
        """Rebuild the executions of these partitions from `executor-state` (linear in their records)."""
        loaded = 0
        for number in numbers:
            found = records.rebuild(
                (_key(msg), msg.value)
                for msg in read_partitions_to_end(self.kafka, [(self.topics.executor_state, number)])
            )
            for key, state in found.items():
                self.states[key] = state
                self.partition[key] = number
                for timer in state.timers.values():
                    heapq.heappush(self._timers, (timer.due, key, timer.id))
            loaded += len(found)
        log.info("assigned partitions %s; recovered %d execution states", numbers, loaded)
        self._recheck_all = True  # recovered attempts may run on workers already known lost

    def _revoked(self, partitions: Partitions) -> None:
        self._moved()
        numbers = {p for topic, p in partitions if topic == self.topics.execution_events}
        for key in [k for k, p in self.partition.items() if p in numbers]:
            self._forget(key)
        self._assignment = [p for p in self._assignment if p not in numbers]
        log.info("revoked partitions %s", sorted(numbers))

    def _moved(self) -> None:
        """Partitions move (called inside `consume`): the previous batch's commit ends first, with the offsets
        of the partitions it read; a batch being decided is dropped, to be decided again from the state as
        committed (its states changed in place)."""
        self._settle()
        if self._batch or len(self.out):
            self._rewind = True

    def _forget(self, key: str) -> None:
        self.states.pop(key, None)
        self.partition.pop(key, None)
        self._plans.pop(key, None)

    # ---- the loop
    def run(self, stop: threading.Event) -> None:
        log.info("executor started (transactions=%s)", self.settings.transactions)
        run_until_stopped(stop, self.run_once, self.close)

    @metrics.timed_batch("batch")
    def run_once(self) -> int:
        """One batch: consume and decide (into the outbox), then publish it in one transaction. Pipelined
        (`pipeline`, with transactions), the batch is consumed and decided while the previous one commits, and its
        transaction begins once that commit has ended: an event waits for one commit, not for two."""
        if self._rewind or self.producer.broken:
            self._settle()
            self._recover()
        pending: dict[str, _Pending] = {}
        messages: list[Message] = []
        self._collect(messages, pending)
        self._settle()
        if self._rewind:  # the previous batch was rolled back, or partitions moved: this one is decided again
            self.out.clear()
            return 0
        due: list[Event] = [*self._due_timers(), *self._lost_workers()]
        if not messages and not due:
            return 0
        try:
            if self.producer.transactional:
                self.producer.begin()
            self.out.open(self.producer)  # what the batch decided so far, then the rest straight to the producer
            for event in due:
                self._apply(event, pending, partition=self.partition.get(event.execution_id, 0))
            self._publish(pending)
            self._send(messages)
        except KafkaError as exc:
            self._rolled_back(exc)
        finally:
            self.out.clear()
        handled = len(messages) + len(due)
        if self._trim:  # a large execution's state was dropped: give its memory back to the system
            del pending, messages, due
            self._trim = False
            memory.give_back()
        return handled

    def _collect(self, messages: list[Message], pending: dict[str, _Pending]) -> None:
        """Consume and decide a batch: what has come, else the first event within the poll timeout; while the
        previous batch commits, whatever else comes until that commit ends (up to the batch size)."""
        self.out.clear()
        self._batch = pending
        self._changes = 0
        try:
            self._take(messages, pending, self.settings.batch_size, 0.0 if self._commit else self._poll_timeout())
            while self._commit is not None and not self._commit.done() and not self._rewind:
                # a commit stuck in librdkafka (a broker restart, issues 5456/5511) is given up on, not
                # waited for until new events fill the batch: they never come while executions wait on it
                if len(messages) >= self.settings.batch_size or self._full() or self._commit.overdue():
                    break
                took = self._take(messages, pending, self.settings.batch_size - len(messages), 0.0)
                # a rebalance inside that consume settles the commit and clears it (`_revoked`)
                if not took and self._commit is not None:
                    self._commit.ready(COMMIT_POLL)
        except BaseException:
            if messages:  # decided, never to be published: decided again after the rewind
                self._rewind = True
            raise
        finally:
            self._batch = None

    def _send(self, messages: list[Message]) -> None:
        """Start the commit of the batch's transaction (pipelined: the next batch waits for its end), or flush
        and store the offsets (without transactions)."""
        self.producer.poll(0)
        if self.producer.transactional:
            self._commit = self.producer.start_commit(self.consumer)
            if not self.settings.pipeline:
                self._settle()
        else:
            self.producer.flush()
            self.consumer.store(messages)

    def _full(self) -> bool:
        """Whether the batch being decided is to take no more events: the records it holds, and the task-run
        changes it will publish (two records each), reach OUTBOX_MOST."""
        return len(self.out) + self._changes >= OUTBOX_MOST

    def _take(self, messages: list[Message], pending: dict[str, _Pending], most: int, timeout: float) -> int:
        """Consume up to `most` events (waiting up to `timeout` for the first), decide them, add them to
        `messages`; how many there were."""
        taken = self.consumer.consume(most, timeout)
        if taken:
            self.kv.next_batch()  # a `kv()` deciding these events sees every value written before them
        # Control requests first: a kill is applied before the task results fetched with it.
        taken.sort(key=lambda m: m.topic != self.topics.control)
        for i, msg in enumerate(taken):
            if messages and self._full():  # the batch is full: the rest go to the next one
                self.consumer.give_back(taken[i:])
                taken = taken[:i]
                break
            try:
                self._handle(msg, pending)
            except RetryableKafkaError:
                self._rewind = True  # a look-up could not read Kafka: consumed, not applied; decided again
                raise
            messages.append(msg)
        return len(taken)

    def _settle(self) -> None:
        """Wait for the previous batch's commit to end; if it failed, roll back (`_rewind`)."""
        commit, self._commit = self._commit, None
        if commit is None:
            return
        try:
            commit.wait()
        except KafkaError as exc:
            self._rolled_back(exc)
        else:
            metrics.committed(commit.seconds)

    def _rolled_back(self, exc: KafkaError) -> None:
        log.error("batch failed, rolling back: %s", exc)
        if self.producer.transactional:
            self.producer.abort()
        self.out.clear()
        self._recheck_all = True  # WorkerLost events of this batch were rolled back too
        self._rewind = True

    def _recover(self) -> None:
        """After a failed batch: replace a stuck producer, reload the states the batch changed in place, and
        rewind to the committed offsets. Either raises `RetryableKafkaError` while Kafka is away, and `run`
        tries again."""
        if self.producer.broken:
            self.producer = self.producer.reopen()
        if self._rewind:
            for key in list(self.states):
                self._forget(key)
            self._timers = []
            self._load(self._assignment)
            self.consumer.seek_to_committed(self.consumer.assignment())
            self._rewind = False

    def _handle(self, msg: Message, pending: dict[str, _Pending]) -> None:
        try:
            event: Event = EVENT_ADAPTER.validate_json(msg.value or b"")
        except ValidationError as exc:
            dead_letter(self.out, self.topics, msg, f"undecodable event: {exc}", "executor")
            return
        self._apply(event, pending, partition=msg.partition, msg=msg)

    def _apply(self, event: Event, pending: dict[str, _Pending], partition: int, msg: Message | None = None) -> None:
        key = event.execution_id
        state = self.states.get(key)
        if state is not None and event.event_id in state.applied:
            return  # delivered again: already applied
        try:
            if isinstance(event, DeleteRequested):
                self._delete(event, pending, partition)
                return
            if isinstance(event, RestoreTaskRuns):
                self._restore(event, state, pending, partition)
                return
            if state is None and isinstance(event, ExecutionCreated):
                if key in self._ended:  # a creation sent again (an idempotent start) after the execution ended
                    return
                decision = decide(None, self._plan(key, event.flow), event, self._env())
                self._register(key, decision.state, pending, partition)
            else:
                state = self._admit(event, state, pending, partition)
                if state is None:
                    return
                decision = decide(state, self._plan(key, state.flow), event, self._env())
        except RetryableKafkaError:
            raise  # a look-up (the KV store, a deployed flow) could not read Kafka: the batch is rolled back
        except Exception as exc:  # a bug or a poison event must not stop the executor
            log.exception("cannot apply %s to execution %s", event.kind, key, extra={"executionId": key})
            if msg is not None:
                dead_letter(self.out, self.topics, msg, f"executor failed to apply event: {exc!r}", "executor")
            return
        self._took(key, decision, pending, partition)

    def _admit(
        self, event: Event, state: ExecutionState | None, pending: dict[str, _Pending], partition: int
    ) -> ExecutionState | None:
        """The state the event applies to: the known one, a new one (a creation), a restored one (a restart of
        an ended execution, once its task runs are back), or None (nothing to apply it to)."""
        key = event.execution_id
        if state is not None:
            return None if state.restoring else state
        if not isinstance(event, (RestartRequested, ChangeStateRequested)) or not self._restartable(event):
            log.info("%s for unknown or ended execution %s: ignored", event.kind, key, extra={"executionId": key})
            return None
        state = restore.begin(event)
        entry = self._register(key, state, pending, partition)
        entry.restored.extend(state.runs.values())
        if state.restoring:
            entry.header = True
            return None
        return state

    def _delete(self, event: DeleteRequested, pending: dict[str, _Pending], partition: int) -> None:
        """Forget a deleted execution: a kill for its attempts still running, tombstones for its state records,
        its task runs and its header; its later events find no state and are ignored, a creation or a restart
        sent again too (it counts as ended)."""
        key = event.execution_id
        pending.pop(key, None)
        state = self.states.get(key)
        if state is not None:
            partition = self.partition.get(key, partition)
            self.out.send(self.topics.kills, key, b'{"executionId":"%s"}' % key.encode())
            if state.flow.get("concurrency") is not None:  # its slot (or its place in the queue) is free
                slot = flow_key(state.header.namespace, state.header.flow_id)
                released = SlotReleased(flow=slot, execution_id=key)
                self.out.send(self.topics.concurrency_requests, slot, released.to_json())
            mark = [(EXECUTION_HEADER, key.encode())]
            for run_id in state.runs:
                self.out.send(self.topics.taskruns, run_id, None, headers=mark, partition=partition)
            for record_key in records.keys(state):
                self.out.send(self.topics.executor_state, record_key, None, partition=partition)
            self._forget(key)
        what = ",".join(name for name, wanted in (("logs", event.logs), ("metrics", event.metrics)) if wanted)
        self.out.send(self.topics.executions, key, None, headers=[(DELETE_HEADER, what.encode())], partition=partition)
        self._ended[key] = DELETED
        self._ended.move_to_end(key)
        log.info("execution %s deleted", key, extra={"executionId": key})

    def _register(self, key: str, state: ExecutionState, pending: dict[str, _Pending], partition: int) -> _Pending:
        """A new execution in this executor's care (created, or brought back): its flow record is written."""
        self.states[key] = state
        self.partition[key] = partition
        entry = self._entry(key, state, pending, partition)
        entry.new = True
        return entry

    def _restore(
        self, event: RestoreTaskRuns, state: ExecutionState | None, pending: dict[str, _Pending], partition: int
    ) -> None:
        if state is None or not state.restoring:
            log.info("task runs for %s that no restart waits for: ignored", event.execution_id)
            return
        before = set(state.runs)
        complete = restore.add(state, event)
        entry = self._entry(event.execution_id, state, pending, partition)
        entry.restored.extend(run for run in event.task_runs if run.id not in before)
        entry.header = True
        state.remember(event.event_id)
        if complete:
            key = event.execution_id
            decision = decide(state, self._plan(key, state.flow), restore.restart_event(state), self._env())
            self._took(key, decision, pending, partition)

    def _env(self) -> Env:
        return Env.live(flows=self.flows.find, kv=self.kv)

    def _entry(self, key: str, state: ExecutionState, pending: dict[str, _Pending], partition: int) -> _Pending:
        entry = pending.get(key)
        if entry is None:
            entry = pending[key] = _Pending(state, partition)
        return entry

    def _took(self, key: str, decision: Decision, pending: dict[str, _Pending], partition: int) -> None:
        """Record what a decision changed for the batch's publication, and send what it asks for."""
        entry = self._entry(key, decision.state, pending, partition)
        entry.header = entry.header or decision.header_changed
        entry.changed.update(decision.changed_json)
        self._changes += len(decision.changed_json)
        for timer in decision.timers:
            heapq.heappush(self._timers, (timer.due, key, timer.id))
        self._emit(decision)
        if self.watch.lost and running_on(decision.changed, self.watch.lost):
            self._recheck.add(key)  # e.g. a lost worker's RUNNING report, read after its loss

    def _emit(self, decision: Decision) -> None:
        for run_id, encoded in decision.encoded:
            self.out.send(self.topics.worker_jobs, run_id, encoded)
        for execution_id in decision.kills:
            self.out.send(self.topics.kills, execution_id, b'{"executionId":"%s"}' % execution_id.encode())
        for entry in decision.logs:
            self.out.send(self.topics.logs, entry.task_run_id or entry.execution_id, entry.to_json())
        for created in decision.executions:
            self.out.send(self.topics.execution_events, created.execution_id, created.to_json())
        for ended in decision.events:  # a child's end, to its parent's partition (keyed by the parent's id)
            self.out.send(self.topics.execution_events, ended.execution_id, ended.to_json())
        for kill in decision.control:  # a parent's kill, to each running child
            self.out.send(self.topics.control, kill.execution_id, kill.to_json())
        for slot in decision.slots:  # to the slot keeper of the flow (flow concurrency)
            self.out.send(self.topics.concurrency_requests, slot.flow, slot.to_json())

    def _restartable(self, event: RestartRequested | ChangeStateRequested) -> bool:
        """A restart (or a change of state) of an ended execution must bring its final header and flow, not an
        older header; a replay brings a new execution (RESTARTED, with `originalId`) never seen before."""
        key, snapshot = event.execution_id, event.execution
        if snapshot is None or event.flow is None or snapshot.id != key:
            log.warning("restart of %s without its snapshot and flow: ignored", key, extra={"executionId": key})
            return False
        if isinstance(event, RestartRequested) and restart.is_replay(snapshot):
            return key not in self._ended
        if not snapshot.state.terminal or snapshot.revision < self._ended.get(key, 0):
            log.warning(
                "restart of %s carries a stale snapshot (revision %d, %s): ignored",
                key,
                snapshot.revision,
                snapshot.state.current,
                extra={"executionId": key},
            )
            return False
        return True

    # ---- publishing
    def _publish(self, pending: dict[str, _Pending]) -> None:
        for key, entry in pending.items():
            state, partition = entry.state, entry.partition
            revision = state.header.revision
            header = [(EXECUTION_HEADER, key.encode())]
            trigger = state.header.trigger
            tail = b',"triggerId":%b' % orjson.dumps(trigger.id) if trigger is not None else b""
            parent = trigger.triggering_execution_id if trigger is not None else None
            if parent is not None:
                tail += b',"triggerExecutionId":%b' % orjson.dumps(parent)
            if state.header.labels:
                tail += b',"labels":%b' % orjson.dumps([label.to_dict() for label in state.header.labels])
            for run_id, blob in entry.changed.items():
                change = b'{"revision":%d,"taskRun":%b%b}' % (revision, blob, tail)
                self.out.send(self.topics.taskruns, run_id, change, headers=header, partition=partition)
            if state.finished:
                self._ended_execution(key, entry)
                continue
            self._state_records(key, entry)

    def _state_records(self, key: str, entry: _Pending) -> None:
        state, partition = entry.state, entry.partition
        topic = self.topics.executor_state
        if entry.new:
            self.out.send(topic, records.flow_key(key), self._flow_blob(key, state.flow), partition=partition)
        runs = [(run.id, run.to_json()) for run in entry.restored if run.id not in entry.changed]
        for run_id, blob in [*runs, *entry.changed.items()]:
            value = records.run_record(state, run_id, blob)
            self.out.send(topic, records.run_key(key, run_id), value, partition=partition)
        if entry.header or entry.changed or entry.new:
            header_json = state.header.to_json()
            if not state.restoring:
                # A PAUSED header carries the pinned flow, so that a resume can type its `onResume` inputs.
                paused = state.header.state.current == StateType.PAUSED
                flow = [(PAUSED_FLOW_HEADER, self._flow_blob(key, state.flow))] if paused else None
                self.out.send(self.topics.executions, key, header_json, headers=flow, partition=partition)
            value = records.header_value(state, header_json)
            self.out.send(topic, records.header_key(key), value, partition=partition)

    def _ended_execution(self, key: str, entry: _Pending) -> None:
        state, partition = entry.state, entry.partition
        execution = state.header
        # The final header keeps the pinned flow, so that a restart can bring the execution back.
        flow_header = (FLOW_HEADER, self._flow_blob(key, state.flow))
        self.out.send(self.topics.executions, key, execution.to_json(), headers=[flow_header], partition=partition)
        for record_key in records.keys(state):  # once per execution: linear in its task runs
            self.out.send(self.topics.executor_state, record_key, None, partition=partition)
        self._ended[key] = execution.revision
        self._ended.move_to_end(key)
        while len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)
        self._forget(key)
        if len(state.runs) >= memory.TRIM_AFTER_RUNS:
            self._trim = True  # once the batch is published and its state dropped (`run_once`)
        log.info(
            "execution %s ended %s",
            key,
            execution.state.current,
            extra={"executionId": key, "state": execution.state.current.value},
        )

    def _plan(self, key: str, flow_json: dict[str, Any]) -> Plan:
        """The execution's plan, made once per flow JSON: the executions of one flow revision share one
        (read-only) flow object and plan, and with them `decide`'s per-flow lookups."""
        entry = self._plans.get(key)
        if entry is None:
            blob = _json(flow_json)
            plan = self._plan_cache.get(blob)
            if plan is None:
                plan = Plan.of(Flow.model_validate(flow_json))
                self._plan_cache[blob] = plan
                while len(self._plan_cache) > FLOW_MEMORY:
                    self._plan_cache.popitem(last=False)
            self._plan_cache.move_to_end(blob)
            entry = self._plans[key] = (plan, blob)
        return entry[0]

    def _flow_blob(self, key: str, flow_json: dict[str, Any]) -> bytes:
        entry = self._plans.get(key)
        return entry[1] if entry is not None else _json(flow_json)

    # ---- timers
    def _due_timers(self) -> list[TimerFired]:
        now = utcnow()
        fired = []
        while self._timers and self._timers[0][0] <= now:
            _, key, timer_id = heapq.heappop(self._timers)
            state = self.states.get(key)
            if state is not None and timer_id in state.timers:
                fired.append(TimerFired(execution_id=key, timer_id=timer_id))
        return fired

    def _poll_timeout(self) -> float:
        timeout = self.settings.poll_timeout
        if self._timers:
            timeout = min(timeout, max((self._timers[0][0] - utcnow()).total_seconds(), 0.0))
        return timeout

    # ---- lost workers
    def _lost_workers(self) -> list[Any]:
        """`WorkerLost` events for owned executions with attempts running on workers silent too long."""
        newly = self.watch.check(time.monotonic(), utcnow())
        keys: set[str] | list[str] = list(self.states) if newly or self._recheck_all else self._recheck
        self._recheck, self._recheck_all = set(), False
        if not keys or not self.watch.lost:
            return []
        return list(lost_events({k: self.states[k] for k in keys if k in self.states}, self.watch.lost))

    def close(self) -> None:
        self._settle()
        self.consumer.close()
        self.watch.close()
        self.flows.close()
        self.kv.close()
        try:
            self.producer.flush(10)
        except KafkaError as exc:
            log.warning("executor producer flush at close: %s", exc)
        log.info("executor stopped")


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def _key(msg: Message) -> str:
    raw = msg.key
    return raw.decode() if isinstance(raw, bytes) else str(raw or "")


def run_executor(kafka: KafkaSettings, settings: ExecutorSettings, stop: threading.Event) -> None:
    """The executor, and beside it in a thread the slot keeper of flow concurrency (`executor.keeper`); if
    either stops (a fatal error), so does the other, and the process."""

    def keep() -> None:
        try:
            SlotKeeper(kafka, settings).run(stop)
        finally:
            stop.set()

    keeper = threading.Thread(target=keep, name="slot-keeper", daemon=True)
    keeper.start()
    try:
        Executor(kafka, settings).run(stop)
    finally:
        stop.set()
        keeper.join(30)
