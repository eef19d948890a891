"""The indexer service: the executions, taskruns, logs, metrics and audit topics into Elasticsearch.

The loop reads like Kestra's `KafkaElasticIndexer`: poll → buffer → bulk when a size or time bound is
hit → commit after success. Offsets are committed only once the batch's documents are in Elasticsearch
(and its dead letters are on their topic); while Elasticsearch is down the same batch is resent with a
capped exponential backoff, the partitions paused so the group keeps us without the buffer growing.
"""

from __future__ import annotations

import logging
import threading
import time

from elasticsearch import ApiError, Elasticsearch, TransportError

from conveyor.common import readiness
from conveyor.common.elastic import describe, elasticsearch_client
from conveyor.common.kafka import names
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.deadletter import dead_letter
from conveyor.common.kafka.errors import KafkaError, RetryableKafkaError
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import ElasticsearchSettings, IndexerSettings, KafkaSettings
from conveyor.indexer import bulk, purge, templates
from conveyor.indexer.batch import Batch
from conveyor.indexer.errors import RetryableIndexError, WritesRefused
from conveyor.indexer.lag import Lag
from conveyor.indexer.lag import describe as describe_lag

log = logging.getLogger(__name__)

SERVICE = "indexer"
# The longest wait between two tries while Elasticsearch refuses writes.
WRITES_REFUSED_MAX_DELAY = 5.0


class Indexer:
    def __init__(
        self,
        kafka: KafkaSettings,
        es: ElasticsearchSettings,
        settings: IndexerSettings,
        *,
        client: Elasticsearch | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
        lag_interval: float = 30.0,
        stats_interval_ms: int = 5000,
    ) -> None:
        self._kafka = kafka
        self._es = es
        self._settings = settings
        self._owns_client = client is None
        self._client = client or elasticsearch_client(es)
        self._prefix = es.index_prefix
        self._topics = Topics.of(kafka)
        self._kinds = {
            self._topics.executions: templates.EXECUTIONS,
            self._topics.taskruns: templates.TASKRUNS,
            self._topics.logs: templates.LOGS,
            self._topics.metrics: templates.METRICS,
            self._topics.audit: templates.AUDIT,
        }
        self._batch = Batch(self._prefix, self._kinds)
        self._lag = Lag()
        self._backoff = backoff
        self._lag_interval = lag_interval
        self._stats_interval_ms = stats_interval_ms
        self._paused = False
        # Since when Elasticsearch refuses our writes (a cluster block), None while it accepts them.
        self._refused_since: float | None = None
        self.group_id = names.INDEXER.id(kafka.topic_prefix)
        # Set once the templates are installed and the group gave this indexer its first partitions
        # (never, if the group has more indexers than the topics have partitions).
        self.ready = threading.Event()

    def lag(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> messages not yet committed, as of the last statistics report."""
        return self._lag.snapshot()

    def run(self, stop: threading.Event) -> None:
        log.info("indexer starting: group %s, Elasticsearch %s", self.group_id, describe(self._es))
        try:
            if self._install_templates(stop):
                self._consume(stop)
        finally:
            if self._owns_client:
                self._client.close()
            log.info("indexer stopped")

    def _consume(self, stop: threading.Event) -> None:
        self._producer = Producer(self._kafka)
        self._consumer = Consumer(
            self._kafka,
            self.group_id,
            list(self._kinds),
            on_assign=lambda _: self.ready.set(),
            on_revoke=self._revoked,
            extra={
                # Offsets move only when this loop commits them, after a successful bulk.
                "enable.auto.commit": False,
                # It writes in bulks anyway: the broker gathers up to 256 KB for up to 200 ms per fetch, not
                # one fetch per message produced (at a steady load those fetches cost the broker most).
                "fetch.min.bytes": 256 * 1024,
                "fetch.wait.max.ms": 200,
                "statistics.interval.ms": self._stats_interval_ms,
                "stats_cb": self._lag.update,
            },
        )
        try:
            self._loop(stop)
        finally:
            self._consumer.close()
            try:
                self._producer.flush(10.0)
            except RetryableKafkaError as exc:
                log.warning("dead letters not delivered at shutdown: %s", exc)

    def _loop(self, stop: threading.Event) -> None:
        size, interval = self._settings.batch_size, self._settings.flush_interval
        next_lag_report = time.monotonic() + self._lag_interval
        while not stop.is_set():
            self._poll(max(size - len(self._batch), 1), self._poll_timeout(), stop)
            now = time.monotonic()
            if self._batch.due(now, size, interval):
                self._flush(stop)
            if now >= next_lag_report:
                self._report_lag()
                next_lag_report = now + self._lag_interval
        if len(self._batch):
            self._flush(stop)

    def _poll(self, max_messages: int, timeout: float, stop: threading.Event) -> None:
        try:
            messages = self._consumer.consume(max_messages, timeout)
        except RetryableKafkaError as exc:
            log.warning("consume failed, retrying: %s", exc)
            stop.wait(1.0)
            return
        for msg in messages:
            self._batch.add(msg, time.monotonic())

    def _poll_timeout(self) -> float:
        """Wake up when the open batch is due, and at least twice a second to see the stop flag."""
        opened = self._batch.opened_at
        if opened is None:
            return 0.5
        return max(0.0, min(0.5, opened + self._settings.flush_interval - time.monotonic()))

    def _flush(self, stop: threading.Event) -> bool:
        """Write the batch, retrying the same batch until it succeeds; False if stopped first."""
        delay = self._backoff[0]
        while True:
            try:
                self._write()
                self._writes_accepted()
                break
            except WritesRefused as exc:
                if stop.is_set():
                    log.warning("stopping with %d messages not indexed (not committed): %s", len(self._batch), exc)
                    return False
                self._writes_refused(exc)
                self._wait(delay, stop)
                # a block is lifted by an operator: look again often, to catch up soon after
                delay = min(delay * 2, WRITES_REFUSED_MAX_DELAY, self._backoff[1])
            except (RetryableIndexError, RetryableKafkaError) as exc:
                if stop.is_set():
                    log.warning(
                        "stopping with %d messages not indexed; their offsets are not committed: %s",
                        len(self._batch),
                        exc,
                    )
                    return False
                log.warning("bulk of %d messages failed, retrying in %.1fs: %s", len(self._batch), delay, exc)
                self._wait(delay, stop)
                delay = min(delay * 2, self._backoff[1])
        if self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False
        return True

    def _writes_refused(self, exc: WritesRefused) -> None:
        """Say it once: the reason, and that nothing is dropped. `/readyz` reports it until writes resume."""
        if self._refused_since is None:
            self._refused_since = time.monotonic()
            log.error(
                "%s; holding %d messages (nothing is dropped, offsets stay uncommitted) and retrying until it "
                "accepts them",
                exc,
                len(self._batch),
            )
            readiness.not_ready("elasticsearch-writes", str(exc))
        else:
            log.debug("still refused: %s", exc)

    def _writes_accepted(self) -> None:
        if self._refused_since is not None:
            log.warning(
                "Elasticsearch accepts writes again after %.0f s; catching up",
                time.monotonic() - self._refused_since,
            )
            self._refused_since = None
            readiness.ready_again("elasticsearch-writes")

    def _write(self) -> None:
        started = time.monotonic()
        pending = self._batch.pending()
        result = bulk.write(self._client, pending)
        self._delete()
        undecodable = self._batch.undecodable()
        for u in undecodable:
            dead_letter(self._producer, self._topics, u.message, u.reason, SERVICE)
        for r in result.rejected:
            action = r.pending.action
            reason = f"Elasticsearch rejected {action.kind} document {action.id} ({r.status}): {r.reason}"
            dead_letter(self._producer, self._topics, r.pending.message, reason, SERVICE)
        if undecodable or result.rejected:
            self._producer.flush()
        count = len(self._batch)
        self._commit()
        self._batch.clear()
        log.debug(
            "bulk: %d messages, %d written, %d stale, %d dead-lettered, %d superseded in %.0f ms",
            count,
            result.indexed,
            result.stale,
            len(undecodable) + len(result.rejected),
            count - len(pending) - len(undecodable),
            (time.monotonic() - started) * 1000,
        )

    def _delete(self) -> None:
        """The documents of the executions deleted in this batch (see `Batch.deletions`)."""
        for (logs, metrics), ids in self._batch.deletions(self._topics.executions).items():
            try:
                purge.delete_documents(self._client, self._prefix, ids, logs=logs, metrics=metrics)
            except (ApiError, TransportError) as exc:
                raise RetryableIndexError(f"deleting the documents of {len(ids)} execution(s): {exc}") from exc

    def _commit(self) -> None:
        try:
            self._consumer.store(self._batch.messages)
            self._consumer.commit()
        except KafkaError as exc:
            # The documents are written, so nothing is lost: offsets stored here ride on the next
            # commit, and a partition lost meanwhile is read again (idempotently) by its new owner.
            log.warning("offsets of %d indexed messages not committed: %s", len(self._batch), exc)

    def _wait(self, delay: float, stop: threading.Event) -> None:
        """Sleep `delay` seconds, still polling (partitions paused) so the group does not evict us and a
        rebalance can revoke partitions, whose buffered messages are then dropped for their new owner."""
        deadline = time.monotonic() + delay
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
            # Paused partitions deliver nothing; a partition assigned meanwhile might, and its
            # messages simply join the batch being retried.
            self._poll(self._settings.batch_size, min(remaining, 0.5), stop)

    def _revoked(self, partitions: list[tuple[str, int]]) -> None:
        dropped = self._batch.drop_partitions(set(partitions))
        if dropped:
            log.info("partitions revoked: %d buffered messages dropped for their new owner", dropped)

    def _install_templates(self, stop: threading.Event) -> bool:
        delay = self._backoff[0]
        while not stop.is_set():
            try:
                templates.install(self._client, self._prefix, self._es.replicas)
                return True
            except (ApiError, TransportError) as exc:
                log.warning("cannot install index templates yet, retrying in %.1fs: %s", delay, exc)
                stop.wait(delay)
                delay = min(delay * 2, self._backoff[1])
        return False

    def _report_lag(self) -> None:
        lag = self._lag.snapshot()
        total = sum(lag.values())
        level = logging.INFO if total else logging.DEBUG
        log.log(level, "indexer lag %d: %s", total, describe_lag(lag), extra={"lag": total})
