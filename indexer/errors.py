"""Errors of the indexer.

IndexerError (ConveyorError)
├── DocumentError        a message cannot become a document (not JSON, not the topic's model, no date to
│                        place it in a monthly index): it goes to the dead-letter topic, the indexer goes on
├── RetryableIndexError  Elasticsearch is unreachable, answers 5xx, or still 429 after the bulk helper's own
│   │                    retries: back off and send the same batch again; offsets stay uncommitted
│   └── WritesRefused    it answers but refuses writes (a cluster block: the flood-stage disk watermark's
│                        `read_only_allow_delete`, a read-only or write block set through the API): the same,
│                        logged once with the reason and reported by `/readyz` until writes are allowed again
├── TemplateError        the index templates cannot be installed (a bad prefix, a refused mapping): fatal
└── QueryError           a query asks for something the indices cannot answer (unknown sort field, a cursor
                         that is not ours): the caller's mistake, shown to the user as is

A document Elasticsearch rejects (HTTP 400, e.g. a mapping error) is not an exception: `bulk.write`
returns it among the rejected, and the service dead-letters it.
"""

from __future__ import annotations

from conveyor.common.errors import ConveyorError


class IndexerError(ConveyorError):
    """Base of the indexer's errors."""


class DocumentError(IndexerError):
    pass


class RetryableIndexError(IndexerError):
    pass


class WritesRefused(RetryableIndexError):
    """Elasticsearch refuses writes (a cluster block); `reason` says which block, on what."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Elasticsearch refuses writes: {reason}")
        self.reason = reason


class TemplateError(IndexerError):
    pass


class QueryError(IndexerError, ValueError):
    pass
