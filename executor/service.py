"""The executor's imperative shell: consume execution events, apply `decide`, publish what it says.

Per batch, inside one Kafka transaction (exactly-once): the executions' new snapshots, the task runs
that changed, worker jobs, kill signals, executor log lines, the executor's own state (a tombstone when
an execution ends), and the consumed offsets. Without transactions it is at-least-once, and duplicate
events are recognised by their ids. Retry delays and kill grace periods are timers kept in the state;
a due timer becomes a `TimerFired` event applied in the same loop.

An ended execution's state is dropped, but its final `executions` snapshot carries the pinned flow (header
`conveyor.flow`): `RestartRequested` brings both back (see `executor.restart`). New executions a decision
creates (flow-level retry) are produced to `execution-events` in the same transaction.
"""

from __future__ import annotations

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
from conveyor.common.events import (
    EVENT_ADAPTER,
    FLOW_HEADER,
    Event,
    ExecutionCreated,
    ExecutorState,
    RestartRequested,
    TaskRunChange,
    TimerFired,
)
from conveyor.common.flow import Flow
from conveyor.common.kafka.consumer import Consumer, Message, Partitions, read_partitions_to_end
from conveyor.common.kafka.deadletter import dead_letter
from conveyor.common.kafka.errors import KafkaError, RetryableKafkaError
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import TaskRun
from conveyor.common.settings import ExecutorSettings, KafkaSettings
from conveyor.common.tasks import registry
from conveyor.executor.decide import Decision, decide
from conveyor.executor.liveness import WorkerWatch, lost_events, running_on

log = logging.getLogger(__name__)

# Event ids remembered per execution, to drop a duplicate delivered again after a failure.
APPLIED_MEMORY = 2000
# Ended executions whose final revision is remembered, to drop a restart that carries an older snapshot.
ENDED_MEMORY = 10_000
# Distinct flow definitions (JSON) whose validated flow the executor keeps for reuse.
FLOW_MEMORY = 256


@dataclass
class _Pending:
    """What one batch will publish for one execution."""

    state: ExecutorState
    changed: dict[str, TaskRun] = field(default_factory=dict)
    ended: bool = False


class Executor:
    def __init__(self, kafka: KafkaSettings, settings: ExecutorSettings | None = None) -> None:
        self.settings = settings or ExecutorSettings()
        self.kafka = kafka
        self.topics = Topics.of(kafka)
        self.states: dict[str, ExecutorState] = {}
        self.partition: dict[str, int] = {}
        self._flows: dict[str, tuple[Flow, bytes]] = {}  # execution id -> its flow and the flow's JSON
        self._flow_cache: OrderedDict[bytes, Flow] = OrderedDict()  # one flow object per flow JSON
        self._ended: OrderedDict[str, int] = OrderedDict()  # execution id -> final revision
        registry.resolve()
        transactional_id = f"{kafka.topic_prefix}executor-{uuid.uuid4().hex}" if self.settings.transactions else None
        # A killed executor's open transaction holds back read_committed readers of its partitions (workers,
        # the next owner's state recovery) until the broker aborts it: keep that wait short. A transaction
        # begun right after the last one's commit is often refused for a moment (CONCURRENT_TRANSACTIONS,
        # while the broker writes the commit markers): retry after 5 ms, not librdkafka's 100 ms (which
        # made every step of an execution wait 10-20 ms under a steady load; the Java client uses 20 ms).
        self.producer = Producer(
            kafka, transactional_id=transactional_id, extra={"transaction.timeout.ms": 15_000, "retry.backoff.ms": 5}
        )
        self.consumer = Consumer(
            kafka,
            group_id=f"{kafka.topic_prefix}executor",
            topics=[self.topics.execution_events],
            on_assign=self._assigned,
            on_revoke=self._revoked,
            transactional=self.settings.transactions,
        )
        self.watch = WorkerWatch(kafka, self.topics.worker_heartbeats, self.settings.worker_timeout)
        self._recheck: set[str] = set()  # executions to check against the lost workers
        self._recheck_all = False
        self._rewind = False  # a failed batch was rolled back: consume again from the committed offsets
        self.ready = threading.Event()

    # ---- partitions
    def _assigned(self, partitions: Partitions) -> None:
        numbers = [p for _, p in partitions]
        state_partitions = [(self.topics.executor_state, p) for p in numbers]
        loaded = 0
        for msg in read_partitions_to_end(self.kafka, state_partitions):
            key = _key(msg)
            if msg.value is None:
                self.states.pop(key, None)
                continue
            try:
                self.states[key] = ExecutorState.model_validate_json(msg.value)
                self.partition[key] = msg.partition
                loaded += 1
            except ValidationError as exc:
                log.error("unreadable executor state for %s: %s", key, exc)
        log.info("assigned partitions %s; recovered %d execution states", numbers, loaded)
        self._recheck_all = True  # recovered attempts may run on workers already known lost
        self.ready.set()

    def _revoked(self, partitions: Partitions) -> None:
        numbers = {p for _, p in partitions}
        for key in [k for k, p in self.partition.items() if p in numbers]:
            self.states.pop(key, None)
            self.partition.pop(key, None)
            self._flows.pop(key, None)
        log.info("revoked partitions %s", sorted(numbers))

    # ---- the loop
    def run(self, stop: threading.Event) -> None:
        log.info("executor started (transactions=%s)", self.settings.transactions)
        try:
            while not stop.is_set():
                try:
                    self.run_once()
                except RetryableKafkaError as exc:
                    log.warning("Kafka hiccup, retrying: %s", exc)
                    stop.wait(1.0)
        finally:
            self.close()

    @metrics.timed_batch("batch")
    def run_once(self) -> int:
        if self._rewind or self.producer.broken:
            self._recover()
        timeout = self._poll_timeout()
        messages = self.consumer.consume(self.settings.batch_size, timeout)
        due: list[Event] = [*self._due_timers(), *self._lost_workers()]
        if not messages and not due:
            return 0
        before: dict[str, ExecutorState | None] = {}
        try:
            if self.producer.transactional:
                self.producer.begin()
            pending: dict[str, _Pending] = {}
            for msg in messages:
                self._handle(msg, pending, before)
            for event in due:
                self._apply(event, pending, before, partition=self.partition.get(event.execution_id, 0))
            self._publish(pending)
            if self.producer.transactional:
                self.producer.commit(self.consumer)
            else:
                self.producer.flush()
                self.consumer.store(messages)
        except KafkaError as exc:
            log.error("batch failed, rolling back: %s", exc)
            if self.producer.transactional:
                self.producer.abort()
            self._recheck_all = True  # WorkerLost events of this batch were rolled back too
            self.states.update({k: v for k, v in before.items() if v is not None})
            for key in [k for k, v in before.items() if v is None]:
                self.states.pop(key, None)
            self._rewind = True
            return 0
        return len(messages) + len(due)

    def _recover(self) -> None:
        """After a failed batch: replace a stuck producer, and rewind to the committed offsets. Either raises
        `RetryableKafkaError` while Kafka is away, and `run` tries again."""
        if self.producer.broken:
            self.producer = self.producer.reopen()
        if self._rewind:
            self.consumer.seek_to_committed(self.consumer.assignment())
            self._rewind = False

    def _handle(self, msg: Message, pending: dict[str, _Pending], before: dict[str, ExecutorState | None]) -> None:
        try:
            event: Event = EVENT_ADAPTER.validate_json(msg.value or b"")
        except ValidationError as exc:
            dead_letter(self.producer, self.topics, msg, f"undecodable event: {exc}", "executor")
            return
        self._apply(event, pending, before, partition=msg.partition, msg=msg)

    def _apply(
        self,
        event: Event,
        pending: dict[str, _Pending],
        before: dict[str, Any],
        partition: int,
        msg: Message | None = None,
    ) -> None:
        key = event.execution_id
        state = self.states.get(key)
        if state is not None and event.event_id in state.applied:
            return  # delivered again: already applied
        if state is None and isinstance(event, RestartRequested):
            if not self._restartable(event):
                return
        elif state is None and not isinstance(event, ExecutionCreated):
            log.debug("event %s for unknown or ended execution %s", event.kind, key)
            return
        before.setdefault(key, state)
        brought = event.flow if isinstance(event, ExecutionCreated | RestartRequested) else None
        flow_json = state.flow if state else brought
        try:
            flow = self._flow(key, flow_json or {})
            execution, timers = (state.execution, state.timers) if state else (None, [])
            decision = decide(execution, flow, event, utcnow(), timers, owned=True)
        except Exception as exc:  # a bug or a poison event must not stop the executor
            log.exception("cannot apply %s to execution %s", event.kind, key, extra={"executionId": key})
            if msg is not None:
                dead_letter(self.producer, self.topics, msg, f"executor failed to apply event: {exc!r}", "executor")
            return
        applied = [*(state.applied if state else []), event.event_id][-APPLIED_MEMORY:]
        # Built from validated parts: no need to validate them again.
        new_state = ExecutorState.model_construct(
            execution=decision.execution, flow=flow_json or {}, applied=applied, timers=decision.timers
        )
        self.states[key] = new_state
        self.partition[key] = partition
        entry = pending.setdefault(key, _Pending(new_state))
        entry.state = new_state
        entry.ended = decision.ended
        for run in decision.changed:
            entry.changed[run.id] = run
        self._emit(decision)
        if self.watch.lost and running_on(decision.changed, self.watch.lost):
            self._recheck.add(key)  # e.g. a lost worker's RUNNING report, read after its loss

    def _emit(self, decision: Decision) -> None:
        for job in decision.jobs:
            self.producer.send(self.topics.worker_jobs, job.task_run.id, job.to_json())
        for execution_id in decision.kills:
            self.producer.send(self.topics.kills, execution_id, b'{"executionId":"%s"}' % execution_id.encode())
        for entry in decision.logs:
            self.producer.send(self.topics.logs, entry.task_run_id or entry.execution_id, entry.to_json())
        for created in decision.executions:
            self.producer.send(self.topics.execution_events, created.execution_id, created.to_json())

    def _restartable(self, event: RestartRequested) -> bool:
        """A restart of an ended execution must bring its final snapshot and flow, not an older snapshot."""
        key, snapshot = event.execution_id, event.execution
        if snapshot is None or event.flow is None or snapshot.id != key:
            log.warning("restart of %s without its snapshot and flow: ignored", key, extra={"executionId": key})
            return False
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

    def _publish(self, pending: dict[str, _Pending]) -> None:
        for key, entry in pending.items():
            execution = entry.state.execution
            for run in entry.changed.values():
                change = TaskRunChange(revision=execution.revision, task_run=run)
                self.producer.send(self.topics.taskruns, run.id, change.to_json())
            if entry.ended:
                # The final snapshot keeps the pinned flow, so that a restart can bring the execution back.
                header = (FLOW_HEADER, self._flow_blob(key, entry.state.flow))
                self.producer.send(self.topics.executions, key, execution.to_json(), headers=[header])
                self.producer.send(self.topics.executor_state, key, None)
                self._ended[key] = execution.revision
                self._ended.move_to_end(key)
                while len(self._ended) > ENDED_MEMORY:
                    self._ended.popitem(last=False)
                self.states.pop(key, None)
                self.partition.pop(key, None)
                self._flows.pop(key, None)
                log.info(
                    "execution %s ended %s",
                    key,
                    execution.state.current,
                    extra={"executionId": key, "state": execution.state.current.value},
                )
            else:
                snapshot = execution.to_json()
                self.producer.send(self.topics.executions, key, snapshot)
                state = state_json(entry.state, snapshot, self._flow_blob(key, entry.state.flow))
                self.producer.send(self.topics.executor_state, key, state)
        self.producer.poll(0)

    def _flow(self, key: str, flow_json: dict[str, Any]) -> Flow:
        """The execution's flow, validated once per flow JSON: the executions of one flow revision share one
        (read-only) flow object, and with it `decide`'s per-flow lookups."""
        entry = self._flows.get(key)
        if entry is None:
            blob = _json(flow_json)
            flow = self._flow_cache.get(blob)
            if flow is None:
                flow = Flow.model_validate(flow_json)
                self._flow_cache[blob] = flow
                while len(self._flow_cache) > FLOW_MEMORY:
                    self._flow_cache.popitem(last=False)
            self._flow_cache.move_to_end(blob)
            entry = self._flows[key] = (flow, blob)
        return entry[0]

    def _flow_blob(self, key: str, flow_json: dict[str, Any]) -> bytes:
        entry = self._flows.get(key)
        return entry[1] if entry is not None else _json(flow_json)

    # ---- timers
    def _due_timers(self) -> list[TimerFired]:
        now = utcnow()
        return [
            TimerFired(execution_id=key, timer_id=timer.id)
            for key, state in self.states.items()
            for timer in state.timers
            if timer.due <= now
        ]

    # ---- lost workers
    def _lost_workers(self) -> list[Event]:
        """`WorkerLost` events for owned executions with attempts running on workers silent too long."""
        newly = self.watch.check(time.monotonic(), utcnow())
        keys: set[str] | list[str] = list(self.states) if newly or self._recheck_all else self._recheck
        self._recheck, self._recheck_all = set(), False
        if not keys or not self.watch.lost:
            return []
        return list(lost_events({k: self.states[k] for k in keys if k in self.states}, self.watch.lost))

    def _poll_timeout(self) -> float:
        timeout = self.settings.poll_timeout
        now = utcnow()
        for state in self.states.values():
            for timer in state.timers:
                timeout = min(timeout, max((timer.due - now).total_seconds(), 0.0))
        return timeout

    def close(self) -> None:
        self.consumer.close()
        self.watch.close()
        try:
            self.producer.flush(10)
        except KafkaError as exc:
            log.warning("executor producer flush at close: %s", exc)
        log.info("executor stopped")


def state_json(state: ExecutorState, execution_json: bytes, flow_json: bytes | None = None) -> bytes:
    """`state.to_json()`, reusing the execution's JSON already made for its `executions` snapshot (the
    execution is most of the state: serialising it once per batch instead of twice) and the flow's JSON."""
    flow = flow_json if flow_json is not None else _json(state.flow)
    applied = _json(state.applied)
    timers = b",".join(timer.to_json() for timer in state.timers)
    return b'{"execution":%b,"flow":%b,"applied":%b,"timers":[%b]}' % (execution_json, flow, applied, timers)


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def _key(msg: Message) -> str:
    raw = msg.key
    return raw.decode() if isinstance(raw, bytes) else str(raw or "")


def run_executor(kafka: KafkaSettings, settings: ExecutorSettings, stop: threading.Event) -> None:
    Executor(kafka, settings).run(stop)
