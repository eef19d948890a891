"""One bulk write of a batch, through `elasticsearch.helpers.streaming_bulk`, sorted into outcomes.

Per document:
- 2xx: indexed.
- 409 (version conflict): Elasticsearch already holds this revision or a newer one. Not an error;
  it is what makes replays and out-of-order deliveries harmless.
- 400 (mapping error, id too long...): rejected. The same document would be refused forever, so it is
  returned to the caller, which dead-letters it and goes on.
- 429: the helper resends only those documents with its own capped exponential backoff; any still
  refused after that, and every other status (5xx, 403 cluster blocks, 404 with index auto-creation off),
  raise `RetryableIndexError` (`WritesRefused` for a cluster block: flood-stage `read_only_allow_delete`, a
  read-only or write block): the whole batch is sent again later. Writes are idempotent (external
  versions, deterministic ids), so resending what already succeeded is safe.

A whole request refused with 400 or 413 is split: the documents are sent one by one to find the bad
ones. Connection errors and 5xx/429 on the whole request raise `RetryableIndexError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.helpers import streaming_bulk

from conveyor.common import metrics
from conveyor.indexer.batch import Pending
from conveyor.indexer.errors import RetryableIndexError, WritesRefused

log = logging.getLogger(__name__)

CHUNK_SIZE = 500
MAX_CHUNK_BYTES = 50 * 1024 * 1024
_REJECTED = frozenset({400})
_SPLIT = frozenset({400, 413})
_BLOCK = "cluster_block_exception"


@dataclass(frozen=True)
class Rejected:
    pending: Pending
    status: int
    reason: str


@dataclass
class BulkResult:
    indexed: int = 0
    # Documents Elasticsearch already held at this revision or a newer one.
    stale: int = 0
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class Backoff:
    """The bulk helper's per-document backoff on 429 (it sleeps, blocking, between its retries)."""

    max_retries: int = 3
    initial: float = 0.5
    maximum: float = 5.0


@metrics.timed_bulk
def write(client: Elasticsearch, pending: list[Pending], backoff: Backoff = Backoff()) -> BulkResult:
    """Index `pending`; returns what happened, or raises `RetryableIndexError` if anything must be resent."""
    result = BulkResult()
    if not pending:
        return result
    try:
        _stream(client, pending, backoff, result, chunk_size=CHUNK_SIZE, raise_on_exception=True)
    except ApiError as exc:
        if _BLOCK in str(exc.message) or _BLOCK in str(exc.body):
            raise WritesRefused(_describe(exc)) from exc
        if exc.status_code not in _SPLIT:
            raise RetryableIndexError(f"bulk request failed: {_describe(exc)}") from exc
        log.warning("bulk request refused (%s): sending its %d documents one by one", exc.status_code, len(pending))
        result = BulkResult()
        _stream(client, pending, backoff, result, chunk_size=1, raise_on_exception=False)
    except TransportError as exc:
        raise RetryableIndexError(f"Elasticsearch unreachable: {exc}") from exc
    return result


def _stream(
    client: Elasticsearch,
    pending: list[Pending],
    backoff: Backoff,
    result: BulkResult,
    *,
    chunk_size: int,
    raise_on_exception: bool,
) -> None:
    by_target = {(p.action.index, p.action.id): p for p in pending}
    retry: list[str] = []
    blocked: list[str] = []
    try:
        for ok, item in streaming_bulk(
            client,
            _actions(pending),
            chunk_size=chunk_size,
            max_chunk_bytes=MAX_CHUNK_BYTES,
            raise_on_error=False,
            raise_on_exception=raise_on_exception,
            max_retries=backoff.max_retries,
            initial_backoff=backoff.initial,
            max_backoff=backoff.maximum,
        ):
            info: dict[str, Any] = next(iter(item.values()))
            status = int(info.get("status", 500))
            if ok:
                result.indexed += 1
            elif status == 409:
                result.stale += 1
            elif status in _REJECTED:
                target = by_target[(info["_index"], info["_id"])]
                result.rejected.append(Rejected(target, status, _reason(info)))
            else:
                reason = _reason(info)
                if _BLOCK in reason:
                    blocked.append(f"{info.get('_index')}: {status} {reason}")
                else:
                    retry.append(f"{info.get('_id')}: {status} {reason}")
    except TransportError as exc:
        raise RetryableIndexError(f"Elasticsearch unreachable: {exc}") from exc
    if blocked:
        raise WritesRefused(f"{len(blocked)} document(s) refused, e.g. {blocked[0]}")
    if retry:
        raise RetryableIndexError(f"{len(retry)} document(s) must be resent, e.g. {retry[0]}")


def _actions(pending: list[Pending]) -> Iterator[dict[str, Any]]:
    for p in pending:
        yield p.action.bulk()


def _reason(info: dict[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type')}: {error.get('reason')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return reason
    return str(error)


def _describe(exc: ApiError) -> str:
    return f"{exc.status_code} {exc.message}"
