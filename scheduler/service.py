"""The scheduler's imperative shell: owns the triggers of the flows in its partitions and fires their slots.

Any number of schedulers form the `scheduler` consumer group on `trigger-control`; partition p of that
topic, of `trigger-state` and the flows whose key falls in p (`partition_of`) belong to one of them. On
assignment it rebuilds those triggers' state from the compacted `trigger-state` topic and applies
`recoverMissedSchedules` (the previous owner may have been down). Each iteration, in ONE Kafka
transaction: the control requests read, the `ExecutionCreated` of every due slot, the new state of every
trigger that changed, and the consumed offsets (which also fence a zombie owner: its commit fails). A slot's
execution id is derived from (namespace, flow, trigger, date), so even a decision replayed after a crash
starts the same execution, which the executor accepts once.

Other trigger loops (the Flow trigger's) plug in as `Loop`s: each is stepped inside the same transaction.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from conveyor.common import metrics
from conveyor.common.clock import utcnow
from conveyor.common.errors import ConveyorError
from conveyor.common.flow import Flow
from conveyor.common.ids import derived_id
from conveyor.common.kafka import names
from conveyor.common.kafka.batch import publish_batch
from conveyor.common.kafka.consumer import Consumer, Message, Partitions, read_partitions_to_end
from conveyor.common.kafka.deadletter import dead_letter
from conveyor.common.kafka.errors import KafkaError
from conveyor.common.kafka.loop import run_until_stopped
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings, SchedulerSettings
from conveyor.common.tasks import registry
from conveyor.common.triggers.base import Trigger
from conveyor.common.triggers.flow import FlowTrigger
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.state import Action, TriggerControl, TriggerState, partition_of
from conveyor.scheduler import ahead, control, decide, preconditions
from conveyor.scheduler.ahead import LOOKAHEAD, Prepared
from conveyor.scheduler.flow_triggers import FlowTriggers, flow_trigger_execution
from conveyor.scheduler.flows import Change, OwnedFlows, schedules
from conveyor.scheduler.parsed import SHARED, ParsedFlows

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# The longest stretch (s) spent preparing upcoming slots between two looks at what is due.
PREPARE_BUDGET = 0.2
# linger.ms of the scheduler's transactional producer.
TRANSACTION_LINGER_MS = 5


@dataclass
class LoopContext:
    """What a trigger loop sees in one iteration: the open transaction's producer and the owned flows."""

    producer: Producer
    topics: Topics
    flows: OwnedFlows
    now: datetime


class Loop(Protocol):
    """A trigger loop the scheduler runs besides the Schedule one (e.g. the Flow trigger's)."""

    def step(self, context: LoopContext) -> int:
        """Do one iteration's work inside the open transaction; how many records it handled."""
        ...


class Scheduler:
    def __init__(
        self,
        kafka: KafkaSettings,
        settings: SchedulerSettings | None = None,
        loops: Sequence[Loop] = (),
        clock: Clock = utcnow,
        parsed: ParsedFlows = SHARED,
    ) -> None:
        self.settings = settings or SchedulerSettings()
        self.kafka = kafka
        self.topics = Topics.of(kafka)
        self.loops = list(loops)
        self.clock = clock
        registry.resolve()
        # The flows parsed once per process, shared with the Flow trigger loop (`parsed`).
        self.flows = OwnedFlows(kafka.partitions, parsed)
        self.states: dict[str, TriggerState] = {}
        self.active: dict[str, Schedule] = {}  # trigger key -> its definition, for the triggers that may fire
        self._heap: list[tuple[datetime, str]] = []
        # Slots prepared ahead of their date (`ahead`), in a heap of their own until they are due.
        self._soon: list[tuple[datetime, str]] = []
        self._prepared: dict[str, Prepared] = {}
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()
        # Undecodable trigger-state records found while loading: dead-lettered in the next transaction.
        self._letters: list[tuple[Message, str]] = []
        self._refreshed = 0.0
        self._rewind = False
        self.table = TopicTable(kafka, self.topics.flows)
        transactional_id = (
            names.SCHEDULER_TRANSACTIONS.id(kafka.topic_prefix, uuid.uuid4().hex)
            if self.settings.transactions
            else None
        )
        # A transaction's records go out by its commit at the latest (it flushes), so a linger costs no
        # latency there and makes the burst of a cron minute (10,000 slots at :00) fewer, larger requests, as
        # the executor's transactional producer does (CONVEYOR_KAFKA_LINGER_MS is 0 for the others).
        extra: dict[str, Any] = {"transaction.timeout.ms": 15_000, "retry.backoff.ms": 5}
        if transactional_id:
            extra["linger.ms"] = TRANSACTION_LINGER_MS
        self.producer = Producer(kafka, transactional_id=transactional_id, extra=extra)
        self.consumer = Consumer(
            kafka,
            group_id=names.SCHEDULER.id(kafka.topic_prefix),
            topics=[self.topics.trigger_control],
            on_assign=self._assigned,
            on_revoke=self._revoked,
            transactional=self.settings.transactions,
        )
        self.ready = threading.Event()

    # ---- partitions
    def _assigned(self, partitions: Partitions) -> None:
        numbers = sorted({p for _, p in partitions})
        self._catch_up_flows()
        for msg in read_partitions_to_end(self.kafka, [(self.topics.trigger_state, n) for n in numbers]):
            self._load_state(msg)
        self._apply(self.flows.assign(numbers), recovering=True)
        log.info("assigned partitions %s; %d triggers active", numbers, len(self.active))
        self.ready.set()

    def _load_state(self, msg: Message) -> None:
        key = (msg.key or b"").decode()
        if msg.value is None:
            self.states.pop(key, None)
            return
        try:
            self.states[key] = TriggerState.model_validate_json(msg.value)
        except ValidationError as exc:
            self._letters.append((msg, f"undecodable trigger state: {exc}"))

    def _revoked(self, partitions: Partitions) -> None:
        numbers = {p for _, p in partitions}
        for entry in self._soon:  # prepared slots are decided again: their states are about to change
            heapq.heappush(self._heap, entry)
        self._soon, self._prepared = [], {}
        self.flows.revoke(numbers)
        for key in [k for k, s in self.states.items() if partition_of(s.flow_key, self.kafka.partitions) in numbers]:
            self.states.pop(key, None)
            self.active.pop(key, None)
            self._dirty.discard(key)
        log.info("revoked partitions %s", sorted(numbers))

    # ---- flows
    def _catch_up_flows(self) -> None:
        self._refreshed = time.monotonic()
        self._apply(self.flows.update(self.table.refresh()), recovering=False)

    def _apply(self, changes: Iterable[Change], *, recovering: bool) -> None:
        now = self.clock()
        for change in changes:
            wanted = {s.id: s for s in schedules(change.flow)}
            prefix = change.key + "/"
            for key in [k for k in self.states if k.startswith(prefix) and k[len(prefix) :] not in wanted]:
                self.active.pop(key, None)
                if change.flow is None or not _declared(change.flow.triggers, key[len(prefix) :]):
                    self._delete(key)  # the flow or the trigger is gone: so is its state
            namespace, flow_id = change.key.split("/", 1)
            for schedule in wanted.values():
                self._activate(namespace, flow_id, schedule, now, recovering=recovering)

    def _activate(self, namespace: str, flow_id: str, schedule: Schedule, now: datetime, *, recovering: bool) -> None:
        key = f"{namespace}/{flow_id}/{schedule.id}"
        state = self.states.get(key)
        if state is None:
            state = decide.first_state(namespace, flow_id, schedule, now)
        else:
            state = decide.redefined(state, schedule, now)
            if recovering or key not in self.active:
                state = decide.recover(state, schedule, now)
        self._keep(state)
        self.active[key] = schedule

    def _delete(self, key: str) -> None:
        state = self.states.pop(key, None)
        self._dirty.discard(key)
        if state is not None:
            self._deleted.add(key)

    def _keep(self, state: TriggerState) -> None:
        """Remember a changed state: written in this iteration's transaction, and scheduled for its next slot."""
        old = self.states.get(state.key)
        self.states[state.key] = state
        if old is None or old != state:
            self._dirty.add(state.key)
        due = _due(state)
        if due is not None:
            heapq.heappush(self._heap, (due, state.key))

    # ---- the loop
    def run(self, stop: threading.Event) -> None:
        log.info("scheduler started (transactions=%s, %d other loops)", self.settings.transactions, len(self.loops))
        run_until_stopped(stop, self.run_once, self.close)

    @metrics.timed_batch("batch")
    def run_once(self) -> int:
        if self._rewind or self.producer.broken:
            self._recover()
        if time.monotonic() - self._refreshed >= self.settings.flows_refresh:
            self._catch_up_flows()
        messages = self.consumer.consume(self.settings.batch_size, self._poll_timeout())
        now = self.clock()
        due = self._due_keys(now)
        if not (messages or due or self._dirty or self._deleted or self._letters or self.loops):
            self._prepare_upcoming(now)
            return 0
        handled = publish_batch(
            self.producer, self.consumer, messages, lambda: self._iteration(messages, due, now), service="scheduler"
        )
        if handled is None:
            self._rewind = True
            return 0
        self._prepare_upcoming(self.clock())
        return handled

    def _iteration(self, messages: list[Message], due: list[str], now: datetime) -> int:
        """What one iteration produces: control requests applied, dead letters, due slots fired, the loops'
        steps, the changed trigger states."""
        for msg in messages:
            self._control(msg, now)
        for letter, reason in self._letters:
            dead_letter(self.producer, self.topics, letter, reason, "scheduler")
        self._letters = []
        fired = sum(self._fire(key, now) for key in due)
        handled = sum(loop.step(LoopContext(self.producer, self.topics, self.flows, now)) for loop in self.loops)
        self._write_states()
        return len(messages) + fired + handled

    def _recover(self) -> None:
        """After a failed iteration: a new producer if needed, the owned state read again, offsets rewound."""
        if self.producer.broken:
            self.producer = self.producer.reopen()
        if self._rewind:
            assignment = self.consumer.assignment()
            self._revoked(assignment)
            self._heap, self._dirty, self._deleted = [], set(), set()
            self._assigned(assignment)
            self.consumer.seek_to_committed(assignment)
            self._rewind = False

    def _control(self, msg: Message, now: datetime) -> None:
        try:
            request = TriggerControl.model_validate_json(msg.value or b"")
        except ValidationError as exc:
            dead_letter(self.producer, self.topics, msg, f"undecodable trigger control request: {exc}", "scheduler")
            return
        if request.action is Action.PRECONDITION:
            self._precondition(request, now)
            return
        trigger = self._trigger_of(request)
        if trigger is None:  # deployed a moment ago? The flows are read again once before giving up.
            self._catch_up_flows()
            trigger = self._trigger_of(request)
        state = self.states.get(request.key)
        if state is None and trigger is not None and not isinstance(trigger, Schedule):
            if request.action is Action.ENABLE:
                return  # a Flow or Webhook trigger without a state was never disabled
            state = control.first_state(request.namespace, request.flow_id, trigger, now)
        if state is None or trigger is None:  # (a Schedule has a state once its flow is enabled)
            log.warning("%s of unknown trigger %s: ignored", request.action.value, request.key)
            return
        try:
            changed = control.apply_control(state, trigger, request, now)
        except (ValueError, OverflowError) as exc:  # e.g. a backfill from year 1: refused, the loop goes on
            dead_letter(self.producer, self.topics, msg, f"cannot apply {request.action.value}: {exc}", "scheduler")
            return
        self._keep(changed)
        log.info("trigger %s: %s", request.key, request.action.value)

    def _precondition(self, request: TriggerControl, now: datetime) -> None:
        """An ended execution met some preconditions of a Flow trigger of an owned flow waiting for several
        flows: advance its window (in its state) and, once all are met, start the flow, in this transaction."""
        flow, trigger = self._flow_trigger(request)
        if trigger is None:  # deployed a moment ago? The flows are read again once before giving up.
            self._catch_up_flows()
            flow, trigger = self._flow_trigger(request)
        if flow is None or flow.disabled or trigger is None or trigger.disabled or trigger.preconditions is None:
            log.info("precondition for %s, no longer an enabled Flow trigger: ignored", request.key)
            return
        state = self.states.get(request.key) or control.first_state(request.namespace, request.flow_id, trigger, now)
        if state.disabled:  # through `conveyor triggers disable` or its stopAfter: met conditions are not kept
            log.info("precondition for %s, a disabled trigger: ignored", request.key)
            return
        step = preconditions.advance(
            state.window, trigger.preconditions, request.met, request.execution_id or "", request.requested
        )
        self._keep(state.model_copy(update={"window": step.window, "updated": now}))
        if not step.fire:
            return
        start = step.window.start.isoformat() if step.window.start else ""
        execution_id = derived_id("flow-trigger", flow.namespace, flow.id, trigger.id, "preconditions", start,
                                  str(step.window.fired), *step.by)  # fmt: skip
        try:
            created = flow_trigger_execution(flow, trigger, execution_id, request.variables)
        except ConveyorError as exc:
            log.error("flow %s.%s trigger %s not started: %s", flow.namespace, flow.id, trigger.id, exc)
            return
        self.producer.send(self.topics.execution_events, created.execution_id, created.to_json())
        log.info("flow %s.%s started by trigger %s, its preconditions met by %s: execution %s",
                 flow.namespace, flow.id, trigger.id, ", ".join(step.by), execution_id)  # fmt: skip

    def _flow_trigger(self, request: TriggerControl) -> tuple[Flow | None, FlowTrigger | None]:
        flow = self.flows.flows.get(f"{request.namespace}/{request.flow_id}")
        found = [t for t in (flow.triggers if flow else []) if t.id == request.trigger_id]
        return flow, found[0] if found and isinstance(found[0], FlowTrigger) else None

    def _trigger_of(self, request: TriggerControl) -> Trigger | None:
        """The trigger the request is for, as the owned flow declares it now (None if it does not)."""
        flow = self.flows.flows.get(f"{request.namespace}/{request.flow_id}")
        found = [t for t in (flow.triggers if flow else []) if t.id == request.trigger_id]
        return found[0] if found and isinstance(found[0], Trigger) else None

    def _current(self, entry: tuple[datetime, str]) -> bool:
        """A heap entry that still stands: its trigger is owned, active, and due at that date."""
        when, key = entry
        state = self.states.get(key)
        return state is not None and key in self.active and _due(state) == when

    def _due_keys(self, now: datetime) -> list[str]:
        keys: dict[str, None] = {}
        for heap in (self._soon, self._heap):
            while heap and heap[0][0] <= now and len(keys) < self.settings.batch_size:
                entry = heapq.heappop(heap)
                if self._current(entry):
                    keys[entry[1]] = None
        return list(keys)

    def _prepare_upcoming(self, now: datetime) -> None:
        """Prepare the slots due within `LOOKAHEAD`, until the next prepared slot is due (at most 0.2 s)."""
        until = (self._soon[0][0] - now).total_seconds() if self._soon else PREPARE_BUDGET
        budget = time.monotonic() + min(PREPARE_BUDGET, max(until, 0.01))
        horizon = now + LOOKAHEAD
        while self._heap and self._heap[0][0] <= horizon and time.monotonic() < budget:
            entry = heapq.heappop(self._heap)
            if not self._current(entry):
                continue
            when, key = entry
            if when > now:
                self._prepared[key] = self._decide(key, when)
            heapq.heappush(self._soon, entry)

    def _decide(self, key: str, now: datetime) -> Prepared:
        state = self.states[key]
        flow_key = state.flow_key
        return ahead.prepare(state, self.active[key], self.flows.flows[flow_key], self.flows.dumped[flow_key], now)

    def _fire(self, key: str, now: datetime) -> int:
        schedule, state = self.active[key], self.states[key]
        prepared = self._prepared.pop(key, None)
        try:
            if not ahead.usable(prepared, state, schedule, now):
                prepared = self._decide(key, now)
        except (ValueError, OverflowError):  # a bug or a date out of range must not stop the other triggers
            log.exception("trigger %s cannot be evaluated; it stops until its flow changes", key)
            self.active.pop(key, None)
            return 0
        assert prepared is not None
        for execution_id, encoded, date in prepared.events:
            self.producer.send(self.topics.execution_events, execution_id, encoded)
            metrics.scheduled((now - date).total_seconds())
        self._keep(prepared.step.state)
        return len(prepared.events)

    def _write_states(self) -> None:
        for key in self._dirty:
            state = self.states[key]
            partition = partition_of(state.flow_key, self.kafka.partitions)
            self.producer.send(self.topics.trigger_state, key, state.to_json(), partition=partition)
        for key in self._deleted:
            flow_key = key.rsplit("/", 1)[0]
            partition = partition_of(flow_key, self.kafka.partitions)
            self.producer.send(self.topics.trigger_state, key, None, partition=partition)
        self._dirty, self._deleted = set(), set()

    def _poll_timeout(self) -> float:
        """The poll waits no longer than the next due slot, nor the next slot to prepare."""
        timeout = self.settings.poll_timeout
        now = self.clock()
        nexts = [self._soon[0][0] - now] if self._soon else []
        if self._heap:
            nexts.append(self._heap[0][0] - LOOKAHEAD - now)
        for wait in nexts:
            timeout = min(timeout, max(wait.total_seconds(), 0.0))
        return timeout

    def close(self) -> None:
        self.consumer.close()
        self.table.close()
        try:
            self.producer.flush(10)
        except KafkaError as exc:
            log.warning("scheduler producer flush at close: %s", exc)
        log.info("scheduler stopped")


def _declared(triggers: Iterable[object], trigger_id: str) -> bool:
    return any(getattr(t, "id", None) == trigger_id for t in triggers)


def _due(state: TriggerState) -> datetime | None:
    """When the trigger next has something to fire (a regular slot or a backfill slot), in UTC."""
    if state.disabled:
        return None
    dates = [d for d in (state.next, state.backfill.next if state.backfill else None) if d is not None]
    return min(dates).astimezone(UTC) if dates else None


def run_scheduler(kafka: KafkaSettings, settings: SchedulerSettings, stop: threading.Event) -> None:
    """The Schedule loop here, the Flow trigger loop (`flow_triggers`: its own consumer group on `executions`
    and its own transactions, as its offsets are another group's) in a thread beside it; both stop together."""
    flow_loop = threading.Thread(target=_flow_triggers, args=(kafka, stop), name="flow-triggers", daemon=True)
    flow_loop.start()
    try:
        Scheduler(kafka, settings).run(stop)
    finally:
        stop.set()
        flow_loop.join(30.0)


def _flow_triggers(kafka: KafkaSettings, stop: threading.Event) -> None:
    """The Flow trigger loop until `stop`; if it dies, the whole service stops (and is restarted), never
    a scheduler that silently fires no Flow trigger."""
    try:
        FlowTriggers(kafka).run(stop)
    except Exception:
        log.exception("the Flow trigger loop failed: stopping the scheduler")
        stop.set()
        raise
