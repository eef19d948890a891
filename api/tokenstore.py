"""API tokens on the compacted `auth-tokens` topic: key the token's id, value an `ApiToken` (its SHA-256,
never the token), a tombstone once revoked. Every server reads the topic into memory and catches up before
each lookup (`TopicTable`), so a token created or revoked through one server holds on every other at once.

A token reads `cvy_<id>_<secret>`: the id finds the record, the SHA-256 of the whole token is compared with
the stored one in constant time. The secret is 32 random bytes (`secrets.token_urlsafe`): a fast hash is
enough, no preimage can be guessed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime

from pydantic import ValidationError

from conveyor.common.auth import ApiToken
from conveyor.common.clock import utcnow
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)

PREFIX = "cvy_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(token_id: str) -> str:
    return f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def token_id_of(token: str) -> str | None:
    """The id inside a token of ours, None for anything else."""
    if not token.startswith(PREFIX):
        return None
    token_id, sep, secret = token[len(PREFIX) :].partition("_")  # ids are base62: no "_"
    return token_id if sep and token_id and secret else None


class TokenStore:
    def __init__(self, kafka: KafkaSettings, producer: Producer) -> None:
        self._topic = Topics.of(kafka).auth_tokens
        self._table = TopicTable(kafka, self._topic)
        self._producer = producer

    def create(self, record: ApiToken) -> None:
        self._producer.send(self._topic, record.id, record.to_json())
        self._producer.flush(10.0)

    def revoke(self, token_id: str) -> None:
        self._producer.send(self._topic, token_id, None)
        self._producer.flush(10.0)

    def get(self, token_id: str) -> ApiToken | None:
        return self._parse(token_id, self._table.get(token_id))

    def all(self) -> list[ApiToken]:
        """Every live record (one catch-up), oldest first."""
        parsed = (self._parse(key, raw) for key, raw in self._table.refresh().items())
        return sorted((t for t in parsed if t is not None), key=lambda t: t.created_at)

    def _parse(self, token_id: str, raw: bytes | None) -> ApiToken | None:
        if raw is None:
            return None
        try:
            return ApiToken.model_validate_json(raw)
        except ValidationError as exc:
            log.error("unreadable token record %s on %s: %d errors", token_id, self._topic, exc.error_count())
            return None

    def check(self, token: str, now: datetime | None = None) -> ApiToken | None:
        """The live record of this token, None when it is unknown, revoked, expired or wrong."""
        token_id = token_id_of(token)
        if token_id is None:
            return None
        record = self.get(token_id)
        if record is None or not hmac.compare_digest(record.sha256, digest(token)):
            return None
        if record.expires_at is not None and record.expires_at <= (now or utcnow()):
            return None
        return record

    def close(self) -> None:
        self._table.close()
