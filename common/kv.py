"""The KV store: typed values by namespace and key, kept on the compacted Kafka topic `kv`.

Record key `namespace/key`, value a `KvEntry` (JSON), a tombstone once deleted. Every reader (a worker for
`kv()` and the kv tasks, the API, the CLI) holds the topic as a table in memory (`TopicTable`) and catches up
before each look-up, so a value set by one process is seen by the next read anywhere. An entry past its
`expiresAt` (set from a `ttl`) reads as missing and is left out of listings; deleting it is the user's (or
`Delete`'s) business, as compaction keeps the latest record of a key.

Types are the reference's (`kvType`): STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON. Without a
type, the value's own decides (a map or a list is JSON). DATETIME, DATE and DURATION are kept as their
ISO-8601 text.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationError

from conveyor.common.base import Model
from conveyor.common.clock import parse_duration, utcnow
from conveyor.common.errors import ConveyorError
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)

KEY_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
MAX_KEY = 250


class KvError(ConveyorError):
    """A KV operation that cannot be done: a bad key, namespace or value, a missing key asked for strictly."""


class KvType(StrEnum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    DURATION = "DURATION"
    JSON = "JSON"


class KvEntry(Model):
    namespace: str
    key: str
    type: KvType
    value: Any = None
    description: str | None = None
    updated: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    def summary(self) -> dict[str, Any]:
        """What a listing shows: everything but the value."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"value"})


def check_key(namespace: str, key: str) -> None:
    if not isinstance(namespace, str) or not re.match(NAMESPACE_PATTERN, namespace):
        raise KvError(f"namespace: {namespace!r} is not a namespace (lowercase letters, digits, `.`, `_`, `-`)")
    if not isinstance(key, str) or len(key) > MAX_KEY or not re.match(KEY_PATTERN, key):
        raise KvError(f"key: {key!r} is not a KV key (letters, digits, `.`, `_`, `-`, at most {MAX_KEY})")


def _infer(value: Any) -> KvType:
    if isinstance(value, bool):
        return KvType.BOOLEAN
    if isinstance(value, int | float):
        return KvType.NUMBER
    if isinstance(value, dict | list):
        return KvType.JSON
    return KvType.STRING


def _as_number(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def _as_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{value!r} is not true or false")
    return text == "true"


def _as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _as_datetime(value: Any) -> str:
    return (value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())).isoformat()


def _as_date(value: Any) -> str:
    return (value if isinstance(value, date) else date.fromisoformat(str(value).strip()[:10])).isoformat()


def _as_duration(value: Any) -> str:
    parsed = parse_duration(value)
    if not isinstance(parsed, timedelta):
        raise ValueError(f"{value!r} is not an ISO-8601 duration")
    return str(value).strip().upper()


_COERCE = {
    KvType.STRING: lambda v: v if isinstance(v, str) else json.dumps(v),
    KvType.NUMBER: _as_number,
    KvType.BOOLEAN: _as_boolean,
    KvType.JSON: _as_json,
    KvType.DATETIME: _as_datetime,
    KvType.DATE: _as_date,
    KvType.DURATION: _as_duration,
}


def typed(value: Any, kv_type: KvType | str | None) -> tuple[KvType, Any]:
    """The value as the type holds it (the value's own type when none is given); `KvError` if it does not fit."""
    if value is None:
        raise KvError("value: null cannot be stored (delete the key instead)")
    chosen = KvType(kv_type) if kv_type else _infer(value)
    try:
        return chosen, _COERCE[chosen](value)
    except (ValueError, TypeError) as exc:
        raise KvError(f"value: does not fit kvType {chosen.value}: {exc}") from exc


def record_key(namespace: str, key: str) -> str:
    return f"{namespace}/{key}"


def parse_entry(raw: bytes | None, topic: str) -> KvEntry | None:
    """A record's entry; None for none, or for an unreadable one (logged)."""
    if raw is None:
        return None
    try:
        return KvEntry.model_validate_json(raw)
    except ValidationError as exc:
        log.error("unreadable KV record on %s: %d errors", topic, exc.error_count())
        return None


def missing(namespace: str, key: str) -> KvError:
    """The reference's error for a key that is not there (`kv()` with errorOnMissing; `Get` and `Delete` word
    theirs otherwise: `worker/runners/kv.py`)."""
    return KvError(f"The key '{key}' does not exist in the namespace '{namespace}'.")


class KvStore:
    """The `kv` topic as a table (reads) and a producer (writes, flushed before they return)."""

    def __init__(self, kafka: KafkaSettings, producer: Producer) -> None:
        self._topic = Topics.of(kafka).kv
        self._table = TopicTable(kafka, self._topic)
        self._producer = producer

    def get(self, namespace: str, key: str) -> KvEntry | None:
        check_key(namespace, key)
        entry = self._parse(self._table.get(record_key(namespace, key)))
        return None if entry is None or entry.expired() else entry

    def put(
        self,
        namespace: str,
        key: str,
        value: Any,
        *,
        kv_type: KvType | str | None = None,
        ttl: timedelta | None = None,
        overwrite: bool = True,
        description: str | None = None,
    ) -> KvEntry:
        check_key(namespace, key)
        if not overwrite and self.get(namespace, key) is not None:
            raise KvError(  # the reference's words
                f"Cannot set value for key '{key}'. Key already exists and `overwrite` is set to `false`."
            )
        chosen, stored = typed(value, kv_type)
        now = utcnow()
        entry = KvEntry(
            namespace=namespace,
            key=key,
            type=chosen,
            value=stored,
            description=description,
            updated=now,
            expires_at=now + ttl if ttl is not None else None,
        )
        self._producer.send(self._topic, record_key(namespace, key), entry.to_json())
        self._producer.flush(10.0)
        return entry

    def delete(self, namespace: str, key: str) -> bool:
        """True when the key held a live value."""
        existed = self.get(namespace, key) is not None
        self._producer.send(self._topic, record_key(namespace, key), None)
        self._producer.flush(10.0)
        return existed

    def list(self, namespace: str) -> list[KvEntry]:
        """The namespace's live entries, by key (one catch-up; a scan of the table, which is in memory)."""
        check_key(namespace, "x")
        prefix = namespace + "/"
        found = [self._parse(raw) for k, raw in self._table.refresh().items() if k.startswith(prefix)]
        return sorted((e for e in found if e is not None and not e.expired()), key=lambda e: e.key)

    def _parse(self, raw: bytes | None) -> KvEntry | None:
        return parse_entry(raw, self._topic)

    def close(self) -> None:
        self._table.close()
