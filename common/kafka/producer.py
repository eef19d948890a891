"""One producer per process: idempotent, acks=all, lz4, no linger by default; optionally transactional.

The transactional calls that wait for a coordinator run on a helper thread and are given up after their
timeout: librdkafka can block in `send_offsets_to_transaction` past its own timeout when the coordinator
goes away (librdkafka issues 5456, 5511; seen on a broker restart). A producer given up on is `broken`:
`reopen` makes a new one with the same transactional id, whose initialisation fences the old one and
aborts its open transaction on the broker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError as _KafkaError
from confluent_kafka import KafkaException
from confluent_kafka import Producer as _Producer

from conveyor.common import metrics
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.errors import KafkaError, RetryableKafkaError, from_exception, from_kafka, kafka_errors
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)

# How long a starting producer asks again for its transactional id while the cluster cannot answer yet (a
# coordinator still loading after a broker restart: COORDINATOR_LOAD_IN_PROGRESS, or no answer in time)
INIT_TIMEOUT = 120.0

Headers = Sequence[tuple[str, bytes | str]]


class Sender(Protocol):
    """What sends records: a `Producer`, or an `Outbox` holding them for a transaction not begun yet."""

    def send(
        self,
        topic: str,
        key: str | bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> None: ...


class Producer:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        transactional_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        config = {
            **settings.client_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": settings.linger_ms,
            "compression.type": "lz4",
            "message.max.bytes": 8 * 1024 * 1024,
            **(extra or {}),
        }
        if transactional_id:
            config["transactional.id"] = transactional_id
        self._settings, self._extra = settings, extra
        with kafka_errors("create a producer"):
            self._producer = _Producer(config)
        self._failed: list[KafkaError] = []
        self.transactional_id = transactional_id
        self.transactional = transactional_id is not None
        self.broken = False
        self._caller: _Caller | None = None
        if self.transactional:
            self._caller = _Caller()
            self._init_transactions()

    def _init_transactions(self) -> None:
        """`init_transactions`, called again (as librdkafka allows after a retriable error or a timeout) for up
        to INIT_TIMEOUT seconds, so that a service starting while a broker restarts waits instead of exiting."""
        deadline = time.monotonic() + INIT_TIMEOUT
        while True:
            try:
                self._bounded(self._producer.init_transactions, 30.0, context="init transactions")
            except RetryableKafkaError as exc:
                if time.monotonic() >= deadline:
                    raise
                log.info("Kafka cannot start transactions yet (%s); asking again", exc)
                self.broken = False
                time.sleep(1.0)
            else:
                return

    def _on_delivery(self, err: Any, msg: Any) -> None:
        metrics.delivered(msg.topic(), err is None)
        if err is not None:
            self._failed.append(from_kafka(err, f"delivery to {msg.topic()} failed"))

    def send(
        self,
        topic: str,
        key: str | bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> None:
        """`partition`: where the record goes (default: the partitioner's choice from the key)."""
        extra: dict[str, Any] = {} if partition is None else {"partition": partition}
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, headers=list(headers or []), on_delivery=self._on_delivery, **extra
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._serve(0.05)
            except KafkaException as exc:
                raise from_exception(exc, f"send to {topic}") from exc

    def _serve(self, timeout: float) -> None:
        try:
            self._producer.poll(timeout)
        except KafkaException as exc:
            raise from_exception(exc, "serve delivery reports") from exc

    def poll(self, timeout: float = 0.0) -> None:
        self._serve(timeout)
        self.raise_failures()

    def flush(self, timeout: float = 30.0) -> None:
        try:
            remaining = self._producer.flush(timeout)
        except KafkaException as exc:
            raise from_exception(exc, "flush") from exc
        self.raise_failures()
        if remaining:
            raise from_kafka_timeout(remaining)

    def raise_failures(self) -> None:
        if self._failed:
            first, self._failed = self._failed[0], []
            raise first

    # Transactions (exactly-once processing: consume -> produce -> commit offsets atomically)
    def begin(self) -> None:
        self._call(self._producer.begin_transaction, context="begin transaction")

    def commit(self, consumer: Consumer | None = None, timeout: float = 10.0) -> None:
        self.start_commit(consumer, timeout).wait()

    def start_commit(self, consumer: Consumer | None = None, timeout: float = 10.0) -> Commit:
        """Commit the open transaction (with the consumer's positions, read now) on the helper thread, and
        return at once: the caller may consume and decide meanwhile, but sends nothing until `Commit.wait`
        has returned (the next transaction begins after it)."""
        assert self._caller is not None
        positions = consumer.positions() if consumer is not None else []
        metadata = consumer.group_metadata() if positions and consumer is not None else None

        def run() -> None:
            if positions:
                try:
                    self._producer.send_offsets_to_transaction(positions, metadata, timeout)
                except KafkaException as exc:
                    raise _Failed("send offsets", exc) from exc
            self._producer.commit_transaction(timeout)

        return Commit(self, self._caller.submit(run, ()), 2 * timeout + 5.0)

    def abort(self, timeout: float = 30.0) -> None:
        if not self.broken:  # a broken producer's transaction is aborted by `reopen`
            try:
                self._bounded(self._producer.abort_transaction, timeout, context="abort transaction")
            except KafkaError as exc:
                # E.g. "Conflicting commit_transaction API call is already in progress" after a commit that
                # timed out: this producer's transaction can no longer be ended by it, and every `begin`
                # would fail the same way. Replaced (`reopen`), the new producer fences it and aborts it.
                log.warning("abort transaction failed, the producer will be replaced: %s", exc)
                self.broken = True
        self._failed = []

    def reopen(self) -> Producer:
        """A new producer with this one's transactional id (fencing this one); raises while Kafka is away."""
        if self._caller is not None:
            self._caller.close()
        log.warning("replacing the transactional producer %s", self.transactional_id)
        return Producer(self._settings, transactional_id=self.transactional_id, extra=self._extra)

    def _bounded(self, fn: Any, *args: Any, context: str) -> Any:
        """A transactional call (its last argument is its timeout), given up on a little after that timeout."""
        assert self._caller is not None
        return self._outcome(self._caller.submit(fn, args), float(args[-1]) + 5.0, context)

    def _outcome(self, call: _Call, limit: float, context: str) -> Any:
        """The result of a call on the helper thread, waited for up to `limit` seconds; its errors as ours (a
        producer given up on, or with a fatal error, is `broken`)."""
        try:
            return call.result(limit)
        except TimeoutError:
            self.broken = True
            raise RetryableKafkaError(f"{context}: no answer from Kafka in {limit - 5.0:.0f}s") from None
        except _Failed as failed:
            return self._raise(failed.exc, failed.context)
        except KafkaException as exc:
            return self._raise(exc, context)

    def _raise(self, exc: KafkaException, context: str) -> Any:
        error = exc.args[0] if exc.args else None
        if isinstance(error, _KafkaError) and error.fatal():
            self.broken = True
        raise from_exception(exc, context) from exc

    def _call(self, fn: Any, *args: Any, context: str) -> Any:
        try:
            return fn(*args)
        except KafkaException as exc:
            raise from_exception(exc, context) from exc


class Commit:
    """A transaction's commit running on the producer's helper thread (`Producer.start_commit`)."""

    def __init__(self, producer: Producer, call: _Call, limit: float) -> None:
        self._producer, self._call, self._limit = producer, call, limit

    def done(self) -> bool:
        return self._call.done.is_set()

    @property
    def seconds(self) -> float:
        """How long the commit took, once it has ended (from `start_commit`)."""
        return max(self._call.ended - self._call.started, 0.0)

    def ready(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the commit to end (either way); True if it has."""
        return self._call.done.wait(timeout)

    def overdue(self) -> bool:
        """Running past its limit (stuck in librdkafka): `wait` now raises at once, the producer `broken`."""
        return not self.done() and time.monotonic() - self._call.started > self._limit

    def wait(self) -> None:
        """Wait for the commit to end; raises as `Producer.commit` does if it failed."""
        self._producer._outcome(self._call, self._limit, "commit transaction")
        self._producer.raise_failures()


class _Failed(Exception):
    """A helper-thread call's error, with the step that raised it."""

    def __init__(self, context: str, exc: KafkaException) -> None:
        super().__init__(context)
        self.context, self.exc = context, exc


class _Call:
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.box: list[tuple[bool, Any]] = []
        self.done = threading.Event()
        self.started = time.monotonic()
        self.ended = 0.0

    def result(self, limit: float) -> Any:
        """Its outcome, waiting until `limit` seconds after the call started (a commit waited for late, after
        the next batch was collected, is not given a whole `limit` again)."""
        if not self.done.wait(max(self.started + limit - time.monotonic(), 0.0)):
            raise TimeoutError
        ok, value = self.box[0]
        if ok:
            return value
        raise value


class _Caller:
    """One daemon thread running the calls handed to it, while the caller waits with its own deadline (a
    call stuck in librdkafka then strands only this thread, which never keeps the process alive)."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="conveyor-transactions", daemon=True).start()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> _Call:
        call = _Call(fn, args)
        self._calls.put(call)
        return call

    def _loop(self) -> None:
        while (call := self._calls.get()) is not None:
            try:
                call.box.append((True, call.fn(*call.args)))
            except BaseException as exc:  # handed back to the waiting caller
                call.box.append((False, exc))
            call.ended = time.monotonic()
            call.done.set()

    def close(self) -> None:
        self._calls.put(None)


def from_kafka_timeout(remaining: int) -> KafkaError:
    from conveyor.common.kafka.errors import RetryableKafkaError

    return RetryableKafkaError(f"{remaining} messages not delivered before the flush timeout")


__all__ = ["Commit", "Producer", "Sender"]
