"""The slot keeper: the one place where the count of each flow's running executions lives (flow concurrency).

Every executor process runs one, in a thread beside its executor, in the `slot-keeper` consumer group on
`concurrency-requests`: all the requests and releases of one flow are keyed by the flow, so they reach one
partition, in order, and so one keeper. Its table (`executor.slots`) is the compacted `concurrency-state`
(key `flow/executionId`, one record per execution holding a slot or queued, a tombstone when it released it),
partition p of it beside partition p of the requests. Per batch, in ONE Kafka transaction: the records that
changed, the answers (`SlotDecided`, to `execution-events`, keyed by execution) and the consumed offsets. A
keeper killed mid-batch leaves an aborted transaction: nothing of it is seen, and the next owner of the
partition rebuilds the table from `concurrency-state` (read_committed, to its end) and reads the requests
again from the committed offsets. The count can neither leak nor double, whichever process dies.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from pydantic import ValidationError

from conveyor.common.clock import utcnow
from conveyor.common.concurrency import SLOT_MESSAGE, Holder
from conveyor.common.events import SlotDecided
from conveyor.common.ids import derived_id
from conveyor.common.kafka import names
from conveyor.common.kafka.batch import publish_batch
from conveyor.common.kafka.consumer import Consumer, Message, Partitions, read_partitions_to_end
from conveyor.common.kafka.deadletter import dead_letter
from conveyor.common.kafka.errors import KafkaError
from conveyor.common.kafka.loop import run_until_stopped
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import ExecutorSettings, KafkaSettings
from conveyor.executor.slots import Outcome, Slots

log = logging.getLogger(__name__)

TRANSACTION_LINGER_MS = 2


class SlotKeeper:
    def __init__(self, kafka: KafkaSettings, settings: ExecutorSettings | None = None) -> None:
        self.settings = settings or ExecutorSettings()
        self.kafka = kafka
        self.topics = Topics.of(kafka)
        self.slots = Slots()
        self._flows: dict[int, set[str]] = {}  # partition -> the flows whose records are in it
        self._assignment: list[int] = []
        self._rewind = False
        txn = names.SLOT_KEEPER_TRANSACTIONS
        suffix = self.settings.executor_id or uuid.uuid4().hex  # stable: a restart fences its predecessor
        transactional_id = txn.id(kafka.topic_prefix, suffix) if self.settings.transactions else None
        extra: dict[str, Any] = {"transaction.timeout.ms": 15_000, "retry.backoff.ms": 5}
        if transactional_id:
            extra["linger.ms"] = TRANSACTION_LINGER_MS
        self.producer = Producer(kafka, transactional_id=transactional_id, extra=extra)
        self.consumer = Consumer(
            kafka,
            group_id=names.SLOT_KEEPER.id(kafka.topic_prefix),
            topics=[self.topics.concurrency_requests],
            on_assign=self._assigned,
            on_revoke=self._revoked,
            transactional=self.settings.transactions,
        )
        self.ready = threading.Event()

    # ---- partitions
    def _assigned(self, partitions: Partitions) -> None:
        numbers = sorted({p for _, p in partitions})
        self._load(numbers)
        self._assignment = sorted({*self._assignment, *numbers})
        self.ready.set()

    def _load(self, numbers: list[int]) -> None:
        loaded = 0
        for number in numbers:
            flows = self._flows.setdefault(number, set())
            for msg in read_partitions_to_end(self.kafka, [(self.topics.concurrency_state, number)]):
                flow, _, execution_id = (msg.key or b"").decode().rpartition("/")
                if msg.value is None:
                    self.slots.unload(flow, execution_id)
                    continue
                try:
                    holder = Holder.model_validate_json(msg.value)
                except ValidationError as exc:
                    log.error("unreadable concurrency state record %r: %s", msg.key, exc)
                    continue
                self.slots.load(holder)
                flows.add(holder.flow)
                loaded += 1
        self.slots.sort_queues()
        log.info("slot keeper assigned partitions %s; %d slot records read", numbers, loaded)

    def _revoked(self, partitions: Partitions) -> None:
        numbers = {p for _, p in partitions}
        for number in numbers:
            self.slots.drop(self._flows.pop(number, set()))
        self._assignment = [p for p in self._assignment if p not in numbers]
        log.info("slot keeper revoked partitions %s", sorted(numbers))

    # ---- the loop
    def run(self, stop: threading.Event) -> None:
        log.info("slot keeper started (transactions=%s)", self.settings.transactions)
        run_until_stopped(stop, self.run_once, self.close)

    def run_once(self) -> int:
        if self._rewind or self.producer.broken:
            self._recover()
        messages = self.consumer.consume(self.settings.batch_size, self.settings.poll_timeout)
        if not messages:
            return 0

        def handle() -> int:
            for msg in messages:
                self._handle(msg)
            return len(messages)

        handled = publish_batch(self.producer, self.consumer, messages, handle, service="slot keeper")
        self._rewind = handled is None
        return handled or 0

    def _recover(self) -> None:
        if self.producer.broken:
            self.producer = self.producer.reopen()
        if self._rewind:
            self.slots = Slots()
            self._flows = {}
            self._load(self._assignment)
            self.consumer.seek_to_committed(self.consumer.assignment())
            self._rewind = False

    def _handle(self, msg: Message) -> None:
        try:
            message = SLOT_MESSAGE.validate_json(msg.value or b"")
        except ValidationError as exc:
            dead_letter(self.producer, self.topics, msg, f"undecodable slot request: {exc}", "executor")
            return
        now = utcnow()
        outcome = self.slots.apply(message, now)
        self._flows.setdefault(msg.partition, set()).add(message.flow)
        self._publish(outcome, msg, now)

    def _publish(self, outcome: Outcome, msg: Message, now: Any) -> None:
        for key, holder in outcome.records.items():
            value = holder.to_json() if holder is not None else None
            self.producer.send(self.topics.concurrency_state, key, value, partition=msg.partition)
        for execution_id, answer in outcome.answers:
            event = SlotDecided(
                event_id=derived_id("slot", execution_id, answer.value, f"{msg.partition}:{msg.offset}"),
                execution_id=execution_id,
                answer=answer,
                date=now,
            )
            self.producer.send(self.topics.execution_events, execution_id, event.to_json())

    def close(self) -> None:
        self.consumer.close()
        try:
            self.producer.flush(10)
        except KafkaError as exc:
            log.warning("slot keeper producer flush at close: %s", exc)
        log.info("slot keeper stopped")
