"""The worker's imperative shell: consume worker jobs, run them on a bounded pool, publish their results.

Read it like dramatiq's ConsumerThread/WorkerThread pair. The calling thread is the consumer: each turn it
settles finished attempts (their offsets move the low-water mark), starts received jobs while the pool has
room (the attempt handed to the pool), receives jobs while its backlog of received jobs has room (at most
`concurrency`; past that it stops consuming, and pauses the partitions after a second), reports RUNNING for
attempts running longer than `running_report_delay` (a quicker one is reported once, at its end, with its
start date: a third fewer events for quick tasks), obeys kill signals, beats its heartbeat, commits, and
polls the producer once. The pool's threads run attempts and publish their final results; "done" goes back
in a `finally`.

At-least-once: an offset is stored only once the job's final result is published, and committed only after
the producer has flushed it. A job abandoned at shutdown is never reported and its offset never stored,
so another worker runs it again, and so are the backlog's jobs never started.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import deque

from pydantic import ValidationError

from conveyor.common.clock import utcnow
from conveyor.common.events import WorkerJob
from conveyor.common.kafka import names
from conveyor.common.kafka.consumer import Consumer, Message, Partitions, tail_consumer
from conveyor.common.kafka.deadletter import dead_letter
from conveyor.common.kafka.errors import KafkaError, RetryableKafkaError
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.kv import KvStore
from conveyor.common.settings import KafkaSettings, WorkerSettings
from conveyor.worker.attempt import Attempt, RunnerLookup
from conveyor.worker.backpressure import Backpressure
from conveyor.worker.children import Children
from conveyor.worker.errors import WorkerError
from conveyor.worker.messages import Heartbeat, KillSignal
from conveyor.worker.offsets import OffsetTracker, Partition
from conveyor.worker.pool import ThreadPool
from conveyor.worker.publisher import Publisher
from conveyor.worker.runners import runner_for
from conveyor.worker.runners.base import StopReason

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 3.0
COMMIT_INTERVAL = 1.0
# How long the backlog may stay full before the job partitions are paused (see `_apply_backpressure`).
PAUSE_AFTER = 1.0
# After the drain period, how long abandoned attempts get to stop (a Commands process group: SIGTERM,
# then SIGKILL two seconds later) before the worker closes its clients anyway.
ABANDON_GRACE = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(self, kafka: KafkaSettings, settings: WorkerSettings, *, runners: RunnerLookup = runner_for) -> None:
        if settings.concurrency < 1:
            raise WorkerError(f"worker concurrency must be at least 1, got {settings.concurrency}")
        self.settings = settings
        self.worker_id = settings.worker_id or default_worker_id()
        self.host = socket.gethostname()
        self.topics = Topics.of(kafka)
        self.group_id = names.WORKER.id(kafka.topic_prefix)
        self._runners = runners
        self._running: dict[str, Attempt] = {}  # job id -> attempt; only the consumer thread touches it
        self._done: queue.SimpleQueue[tuple[Attempt, bool]] = queue.SimpleQueue()
        self._offsets: OffsetTracker[Message] = OffsetTracker()
        self._backpressure = Backpressure()
        # Jobs received but not started yet (at most `concurrency` of them): a freed slot takes the next one
        # at once, without waiting for a fetch.
        self._backlog: deque[Message] = deque()
        self._full_since: float | None = None
        self._next_heartbeat = 0.0
        self._next_commit = 0.0
        self._stored = False  # offsets stored since the last commit

        # Results are retried until delivered (no message timeout): an outage never drops one.
        self._producer = Producer(kafka, extra={"message.timeout.ms": 0})
        self._publisher = Publisher(self._producer, self.topics)
        # The KV store of `kv()` and the kv tasks: its table is read on first use only.
        self._kv = KvStore(kafka, self._producer)
        # A Subflow's restart of its failed child (a ForEachItem's of its failed batches' children) reads the
        # child back and sends its restart (`children`).
        self._children = Children(kafka, self._producer)
        self._kills = tail_consumer(kafka, self.topics.kills)
        self._consumer = Consumer(
            kafka,
            self.group_id,
            [self.topics.worker_jobs],
            on_revoke=self._revoked,
            # `_commit` commits after a flush: no offset is committed before its result is delivered.
            extra={"enable.auto.commit": False},
        )
        self._pool: ThreadPool[Attempt] = ThreadPool(settings.concurrency, self._process)

    def _extra(self) -> dict[str, str]:
        return {"worker_id": self.worker_id}

    # The consumer thread
    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set, then drain: running attempts get `drain_seconds` to finish."""
        log.info(
            "worker %s started: group %s, concurrency %d",
            self.worker_id,
            self.group_id,
            self.settings.concurrency,
            extra=self._extra(),
        )
        try:
            while not stop.is_set():
                self._turn()
            self._drain()
        finally:
            self._close()
        log.info("worker %s stopped", self.worker_id, extra=self._extra())

    def _turn(self) -> None:
        """One pass of the consumer loop (the steps of the module's docstring, in order)."""
        self._settle(timeout=0.0)
        self._start_backlog()
        self._apply_backpressure()
        room = self._backlog_room()
        if room <= 0:
            self._wait_for_a_slot()
        if room > 0 or self._backpressure.paused:  # paused: the call serves callbacks and fetches nothing
            self._receive(max_messages=max(room, 1), timeout=self.settings.poll_timeout if room > 0 else 0)
            self._start_backlog()
        self._housekeeping()

    def _backlog_room(self) -> int:
        """How many more received jobs the backlog takes (it holds at most `concurrency`)."""
        return self.settings.concurrency - len(self._backlog)

    def _wait_for_a_slot(self) -> None:
        """The backlog is full: wait for an attempt to end (up to the poll timeout), not for jobs there is no
        room for, and start the next job in the slot it frees."""
        self._settle(timeout=self.settings.poll_timeout)
        self._start_backlog()

    def _receive(self, max_messages: int, timeout: float) -> None:
        """Consume worker jobs into the backlog; each offset is tracked from its receipt."""
        try:
            messages = self._consumer.consume(max_messages=max_messages, timeout=timeout)
        except RetryableKafkaError as exc:  # the client reconnects by itself; a fatal error stops the worker
            log.warning("consuming worker jobs: %s", exc, extra=self._extra())
            return
        for msg in messages:
            self._offsets.start(msg.topic_partition, msg.offset, msg)
            self._backlog.append(msg)

    def _start_backlog(self) -> None:
        """Hand received jobs to the pool while it has a free slot."""
        while self._backlog and len(self._running) < self.settings.concurrency:
            self._dispatch(self._backlog.popleft())

    def _housekeeping(self) -> None:
        self._report_running()
        self._obey_kills()
        self._beat()
        try:
            self._commit()
        except RetryableKafkaError as exc:  # e.g. the group is rebalancing: the next turn commits them
            log.warning("committing worker-job offsets: %s", exc, extra=self._extra())
        self._producer.poll(0)

    def _dispatch(self, msg: Message) -> None:
        partition: Partition = msg.topic_partition
        offset = msg.offset  # tracked since it was received (`_receive`)
        try:
            job = WorkerJob.model_validate_json(msg.value or b"")
        except ValidationError as exc:
            dead_letter(self._producer, self.topics, msg, f"undecodable worker job: {exc}", "worker")
            self._finish(partition, offset)
            return
        running = self._running.get(job.job_id)
        if running is not None:  # delivered again (a rebalance, a resent job): the running attempt answers it
            log.info("job %s is already running here", job.job_id, extra=running.log_extra())
            running.offsets.append((partition, offset))
            return
        attempt = Attempt(
            job,
            worker_id=self.worker_id,
            emit_log=self._publisher.log,
            runners=self._runners,
            kv=self._kv,
            publish=self._publisher.result,
            restart_execution=self._children.restart,
            child_restarts=self._children,
        )
        attempt.offsets.append((partition, offset))
        self._running[job.job_id] = attempt
        if not self.settings.running_report_delay:
            attempt.report_running(self._publisher.result)
        log.info("attempt %s started", attempt.job_id, extra=attempt.log_extra())
        self._pool.submit(attempt)

    def _settle(self, timeout: float) -> None:
        """Take in the attempts the pool has finished (waiting up to `timeout` for the first one)."""
        while True:
            try:
                attempt, published = self._done.get(timeout=timeout) if timeout else self._done.get_nowait()
            except queue.Empty:
                return
            timeout = 0.0
            self._running.pop(attempt.job_id, None)
            if published:
                for partition, offset in attempt.offsets:
                    self._finish(partition, offset)

    def _finish(self, partition: Partition, offset: int) -> None:
        mark = self._offsets.finish(partition, offset)
        if mark is not None:
            self._consumer.store([mark])
            self._stored = True

    def _apply_backpressure(self) -> None:
        # No room in the backlog: the loop stops consuming. Only after PAUSE_AFTER without room are the
        # partitions paused (so that polling goes on for the group), since resuming costs a fresh fetch
        # (about a second in librdkafka): worth it for long tasks, not for a pool of quick ones.
        full = len(self._backlog) >= self.settings.concurrency
        now = time.monotonic()
        if not full:
            self._full_since = None
        elif self._full_since is None:
            self._full_since = now
        pausing = full and (bool(self._backpressure.paused) or now - (self._full_since or now) >= PAUSE_AFTER)
        if not pausing and not self._backpressure.paused:
            return  # nothing to pause or resume: the assignment is not read (a tenth of a busy worker's time)
        pause, resume = self._backpressure.update(pausing, set(self._consumer.assignment()))
        if pause:
            self._consumer.pause(pause)
            log.debug("pool full: paused %s", pause, extra=self._extra())
        if resume:
            self._consumer.resume(resume)
            log.debug("room in the pool: resumed %s", resume, extra=self._extra())

    def _report_running(self) -> None:
        since = time.monotonic() - self.settings.running_report_delay
        for attempt in self._running.values():
            if not attempt.running_reported and attempt.started_at <= since:
                attempt.report_running(self._publisher.result)

    def _obey_kills(self) -> None:
        try:
            messages = self._kills.consume(max_messages=100, timeout=0)
        except RetryableKafkaError as exc:
            log.warning("consuming kill signals: %s", exc, extra=self._extra())
            return
        for msg in messages:
            try:
                signal = KillSignal.model_validate_json(msg.value or b"")
            except ValidationError as exc:
                log.warning("ignored an undecodable kill signal: %s", exc, extra=self._extra())
                continue
            for attempt in self._running.values():
                if attempt.execution_id == signal.execution_id:
                    attempt.stop(StopReason.KILLED)

    def _beat(self) -> None:
        now = time.monotonic()
        if now < self._next_heartbeat:
            return
        self._next_heartbeat = now + HEARTBEAT_INTERVAL
        self._publisher.heartbeat(
            Heartbeat(
                worker_id=self.worker_id,
                host=self.host,
                running_task_run_ids=sorted({a.task_run_id for a in self._running.values()}),
                time=utcnow(),
            )
        )

    def _commit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._stored or (now < self._next_commit and not force):
            return
        self._next_commit = now + COMMIT_INTERVAL
        self._producer.flush()  # the stored offsets' results must be delivered before they are committed
        self._consumer.commit()
        self._stored = False

    def _revoked(self, partitions: Partitions) -> None:
        # Called inside `consume`, on this thread: commit what is done before another worker takes over.
        try:
            self._commit(force=True)
        except KafkaError as exc:  # partitions lost rather than revoked: nothing left to commit to
            log.warning("commit on revocation failed: %s", exc, extra=self._extra())
        self._offsets.forget(partitions)
        gone = set(partitions)
        self._backlog = deque(m for m in self._backlog if m.topic_partition not in gone)
        log.info("partitions revoked: %s", partitions, extra=self._extra())

    def _drain(self) -> None:
        deadline = time.monotonic() + self.settings.drain_seconds
        if self._running:
            log.info("draining %d running attempts", len(self._running), extra=self._extra())
        while self._running and time.monotonic() < deadline:
            self._settle(timeout=min(0.1, max(deadline - time.monotonic(), 0.0)))
            self._housekeeping()
        if self._running:
            log.warning(
                "abandoning %d attempts after %ss: they will run again elsewhere",
                len(self._running),
                self.settings.drain_seconds,
                extra=self._extra(),
            )
            for attempt in self._running.values():
                attempt.stop(StopReason.SHUTDOWN)
            deadline = time.monotonic() + ABANDON_GRACE
            while self._running and time.monotonic() < deadline:
                self._settle(timeout=0.1)
        self._commit(force=True)

    def _close(self) -> None:
        for attempt in self._running.values():  # only after an error: stop what still runs
            attempt.stop(StopReason.SHUTDOWN)
        self._pool.stop()
        self._kills.close()
        self._kv.close()
        self._consumer.close()  # leaves the group: abandoned jobs go to another worker at once
        try:
            self._publisher.leave(self.worker_id)
            self._producer.flush()
        except KafkaError as exc:
            log.error("results or logs may be lost: %s", exc, extra=self._extra())

    # The pool's threads
    def _process(self, attempt: Attempt) -> None:
        published = False
        try:
            result = attempt.run()
            if result is not None:
                attempt.report_end(result, self._publisher.result)
                published = True
                log.info("attempt %s ended %s", attempt.job_id, result.state, extra=attempt.log_extra())
        except Exception:
            log.exception("could not report attempt %s", attempt.job_id, extra=attempt.log_extra())
        finally:
            self._done.put((attempt, published))
