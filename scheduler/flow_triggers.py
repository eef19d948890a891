"""The Flow trigger loop: when an execution ends, start the flows whose Flow trigger matches it, exactly once.

A consumer group (`{prefix}flow-triggers`) on the `executions` topic reads the final snapshots (those with
the `conveyor.flow` header: the executor writes it once, when the execution ends). For each, the flows the
index (`flow_index`) names and `flow_match.matches` accepts get an `ExecutionCreated` whose id is derived
from (triggered flow, trigger id, triggering execution id); the creations and the consumer's offsets are one
Kafka transaction, so a batch replayed after a crash, or read by a second instance after a rebalance, never
starts a second execution (the derived id makes even a replayed creation a duplicate the executor ignores).

The flow -> triggers index follows the `flows` topic: before each batch the loop reads only what changed
since the last one. A trigger fires only for executions that ended after its flow's revision was deployed, so
a new group, which reads `executions` from its start, does not fire for the past.
An undecodable record goes to the dead-letter topic and the loop goes on.

A trigger disabled in its state (`conveyor triggers disable`, the API, its `stopAfter`) does not fire: the loop
follows `trigger-state` too, before each batch, as it follows `flows`.

A flow's Flow trigger never fires for that same flow's executions (the index leaves them out, as the
reference's `removeUnwanted` does): a trigger whose conditions would match its own flow cannot loop forever.

`stopAfter`: an ended execution that a Schedule trigger started, in one of that trigger's `stopAfter` states
(the deployed definition's), gets a `stopAfter` notice on `trigger-control`, in the partition of its flow, in
the same transaction as the offsets: the scheduler that owns the trigger disables it and records why
(`TriggerState.stopped_after`). The executions topic is keyed by execution id, the trigger's state by flow:
this loop is where one meets the other.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from conveyor.common.clock import utcnow
from conveyor.common.deployed import flow_key
from conveyor.common.errors import ConveyorError
from conveyor.common.events import FLOW_HEADER, ExecutionCreated
from conveyor.common.flow import Flow
from conveyor.common.ids import derived_id
from conveyor.common.kafka import names
from conveyor.common.kafka.batch import publish_batch
from conveyor.common.kafka.consumer import Consumer, Partitions
from conveyor.common.kafka.deadletter import dead_letter
from conveyor.common.kafka.errors import KafkaError
from conveyor.common.kafka.loop import run_until_stopped
from conveyor.common.kafka.message import Message
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.model import Execution, ExecutionTrigger
from conveyor.common.render import render_value
from conveyor.common.settings import KafkaSettings
from conveyor.common.tasks import registry
from conveyor.common.triggers.flow import FlowTrigger
from conveyor.common.triggers.state import Action, TriggerControl, disabled_in, partition_of
from conveyor.scheduler import preconditions
from conveyor.scheduler.flow_index import Candidate, FlowTriggerIndex
from conveyor.scheduler.flow_match import matches, trigger_variables
from conveyor.scheduler.parsed import SHARED, ParsedFlows
from conveyor.scheduler.stop_after import StopAfterIndex

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # ended executions per transaction
POLL_TIMEOUT = 0.5
SERVICE = "scheduler"


class FlowTriggers:
    def __init__(self, kafka: KafkaSettings, parsed: ParsedFlows = SHARED) -> None:
        self.kafka = kafka
        self.parsed = parsed
        self.topics = Topics.of(kafka)
        self.index = FlowTriggerIndex()
        self.stops = StopAfterIndex()
        self.fired = 0
        self.stopped = 0
        self.batch_size = BATCH_SIZE
        registry.resolve()
        self._flows = TopicTable(kafka, self.topics.flows)
        # The triggers disabled in their state (`conveyor triggers disable`, the API, `stopAfter`), followed
        # from `trigger-state` as the flows are: a disabled Flow trigger does not fire.
        self._states = TopicTable(kafka, self.topics.trigger_state)
        self.disabled: set[str] = set()
        self.producer = Producer(
            kafka,
            transactional_id=names.FLOW_TRIGGER_TRANSACTIONS.id(kafka.topic_prefix, uuid.uuid4().hex),
            extra={"transaction.timeout.ms": 15_000, "retry.backoff.ms": 5},
        )
        self.consumer = Consumer(
            kafka,
            group_id=names.FLOW_TRIGGERS.id(kafka.topic_prefix),
            topics=[self.topics.executions],
            on_assign=self._assigned,
            transactional=True,
        )
        self._rewind = False
        self._assigned_once = False
        # Set once the consumer holds partitions and knows where it reads them from.
        self.ready = threading.Event()

    def _assigned(self, partitions: Partitions) -> None:
        self._assigned_once = True
        log.info("flow triggers: assigned %s", sorted(p for _, p in partitions))

    def run(self, stop: threading.Event) -> None:
        log.info("flow triggers started")
        run_until_stopped(stop, self.run_once, self.close)

    def run_once(self) -> int:
        """One batch: catch up with the flows, then fire for the ended executions read, in one transaction."""
        if self._rewind or self.producer.broken:
            self._recover()
        messages = self.consumer.consume(self.batch_size, POLL_TIMEOUT)
        self._mark_ready()
        if not messages:
            return 0
        self.follow_flows()

        def handle() -> int:
            for msg in messages:
                self._handle(msg)
            return len(messages)

        handled = publish_batch(self.producer, self.consumer, messages, handle, service="flow triggers")
        self._rewind = handled is None
        return handled or 0

    def follow_flows(self) -> None:
        """Apply what changed on the `flows` topic since the last call to the index, and what changed on
        `trigger-state` to the disabled triggers (the cost is what changed, not what there is)."""
        for key, raw in self._flows.changes().items():
            found = _deployed_flow(self.parsed, key, raw)
            self.index.update(key, *(found or (None, None)))
            self.stops.update(key, *(found or (None, None)))
        for key, raw in self._states.changes().items():
            if disabled_in(raw):
                self.disabled.add(key)
            else:
                self.disabled.discard(key)

    def _mark_ready(self) -> None:
        if self._assigned_once and not self.ready.is_set():
            self.ready.set()

    def _recover(self) -> None:
        if self.producer.broken:
            self.producer = self.producer.reopen()
        if self._rewind:
            self.consumer.seek_to_committed(self.consumer.assignment())
            self._rewind = False

    def _handle(self, msg: Message) -> None:
        if msg.value is None or not any(name == FLOW_HEADER for name, _ in msg.headers):
            return  # a tombstone, or a snapshot of a running execution
        try:
            ended = Execution.model_validate_json(msg.value)
        except ValidationError as exc:
            log.error("undecodable execution %s on %s: %s", msg.key_str, msg.topic, exc)
            dead_letter(self.producer, self.topics, msg, f"undecodable execution: {exc}", SERVICE)
            return
        if not ended.state.terminal:
            return
        end = ended.state.histories[-1].date if ended.state.histories else None
        self._stop_after(ended, end)
        for candidate in self.index.candidates(ended.namespace, ended.flow_id):
            if not _after(end, candidate.since) or candidate.key in self.disabled:
                continue
            if candidate.trigger.waits:
                self._precondition(candidate, ended, end)
            elif matches(candidate.trigger, ended, candidate.flow):
                self._fire(candidate, ended)

    def _precondition(self, candidate: Candidate, ended: Execution, end: datetime | None) -> None:
        """`ended` meets some preconditions of a trigger waiting for several flows: tell the scheduler that
        owns the triggered flow, which keeps the window and fires once all are met."""
        pre, trigger, flow = candidate.trigger.preconditions, candidate.trigger, candidate.flow
        if pre is None or not preconditions.eligible(trigger, ended, flow):
            return
        met = preconditions.met_by(pre, ended)
        if not met:
            return
        notice = TriggerControl(
            request_id=derived_id("precondition", flow.namespace, flow.id, trigger.id, ended.id),
            namespace=flow.namespace,
            flow_id=flow.id,
            trigger_id=trigger.id,
            action=Action.PRECONDITION,
            execution_id=ended.id,
            state=ended.state.current,
            met=met,
            variables=trigger_variables(ended),
            requested=end or utcnow(),
        )
        partition = partition_of(flow_key(flow.namespace, flow.id), self.kafka.partitions)
        self.producer.send(self.topics.trigger_control, notice.key, notice.to_json(), partition=partition)

    def _stop_after(self, ended: Execution, end: datetime | None) -> None:
        """A notice to the trigger's scheduler when `ended` ended in one of its trigger's `stopAfter` states."""
        notice = self.stops.notice(ended, end, utcnow())
        if notice is None:
            return
        partition = partition_of(flow_key(notice.namespace, notice.flow_id), self.kafka.partitions)
        self.producer.send(self.topics.trigger_control, notice.key, notice.to_json(), partition=partition)
        self.stopped += 1
        log.info("trigger %s: execution %s ended %s, one of its stopAfter states: disabling it",
                 notice.key, ended.id, ended.state.current.value)  # fmt: skip

    def _fire(self, candidate: Candidate, ended: Execution) -> None:
        flow, trigger = candidate.flow, candidate.trigger
        variables = trigger_variables(ended)
        try:
            created = triggered_execution(candidate, ended, variables)
        except ConveyorError as exc:  # inputs that do not render or do not match the flow's
            what = f"{flow.namespace}.{flow.id} trigger {trigger.id}"
            log.error("flow %s not started for %s: %s", what, ended.id, exc)
            return
        self.producer.send(self.topics.execution_events, created.execution_id, created.to_json())
        self.fired += 1
        log.info(
            "flow %s.%s started by trigger %s: execution %s (after %s ended %s)",
            flow.namespace,
            flow.id,
            trigger.id,
            created.execution_id,
            ended.id,
            ended.state.current.value,
            extra={"executionId": created.execution_id},
        )

    def close(self) -> None:
        try:
            self.consumer.close()
            self._flows.close()
            self._states.close()
        finally:
            try:
                self.producer.flush(10.0)
            except KafkaError as exc:
                log.warning("flow triggers: Kafka at shutdown: %s", exc)


def triggered_execution(candidate: Candidate, ended: Execution, variables: dict[str, Any]) -> ExecutionCreated:
    """The creation of the execution `candidate` starts for `ended`: its id derived from (flow, trigger,
    triggering execution); the trigger's inputs rendered with `trigger` in the context; its labels added."""
    flow, trigger = candidate.flow, candidate.trigger
    execution_id = derived_id("flow-trigger", flow.namespace, flow.id, trigger.id, ended.id)
    return flow_trigger_execution(flow, trigger, execution_id, variables)


def flow_trigger_execution(
    flow: Flow, trigger: FlowTrigger, execution_id: str, variables: dict[str, Any]
) -> ExecutionCreated:
    """The creation of an execution of `flow` by its Flow trigger, with that (derived) id. Raises
    `ConveyorError` when the trigger's inputs do not render or do not fit the flow."""
    inputs = render_value(trigger.inputs, {"trigger": variables}) if trigger.inputs else {}
    created = new_execution(
        flow,
        inputs,
        labels=trigger.labels,
        execution_id=execution_id,
        event_id=derived_id("created", execution_id),
    )
    block = ExecutionTrigger(id=trigger.id, type=trigger.canonical_type(), variables=variables)
    created.execution.trigger = block
    return created


def _after(end: datetime | None, since: datetime | None) -> bool:
    return end is None or since is None or end >= since


def _deployed_flow(parsed_flows: ParsedFlows, key: str, raw: bytes | None) -> tuple[Flow, datetime] | None:
    """The flow on the `flows` topic under `key` and when it was deployed (parsed once per process, shared
    with the Schedule loop); None when deleted, or unreadable (then logged)."""
    if raw is None:
        parsed_flows.forget(key)
        return None
    parsed = parsed_flows.get(key, raw)
    if parsed.error is not None:
        log.error("flow triggers: unreadable flow %s: %s", key, parsed.error)
    if parsed.flow is None or parsed.deployed is None:
        return None
    return parsed.flow, parsed.deployed.deployed_at


def run_flow_triggers(kafka: KafkaSettings, stop: threading.Event) -> None:
    FlowTriggers(kafka).run(stop)
