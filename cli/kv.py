"""`conveyor kv get|set|list|delete NS [KEY]`: the KV store on the `kv` topic, straight through Kafka (like
`conveyor kill`, the CLI is trusted as far as the Kafka ACLs let it: the `cli` principal reads and writes `kv`).

`set` reads VALUE as JSON when it parses (`42`, `true`, `{"a": 1}`), else as text; `--type` forces the
reference's kvType. `get` prints a text value as it is and any other value as JSON; a missing key exits 1.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from conveyor.cli.output import console, print_json, table
from conveyor.common.clock import parse_duration
from conveyor.common.errors import UsageError
from conveyor.common.kafka.producer import Producer
from conveyor.common.kv import KvError, KvStore
from conveyor.common.settings import KafkaSettings


def _value(text: str, kv_type: str | None) -> Any:
    if kv_type and kv_type.upper() == "STRING":
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _ttl(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        parsed = parse_duration(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, timedelta) or parsed <= timedelta(0):
        raise UsageError(f"--ttl: {text!r} is not a positive ISO-8601 duration (PT1H, P1D)")
    return parsed


def kv(kafka: KafkaSettings, action: str, namespace: str, key: str | None, value: str | None, **options: Any) -> int:
    producer = Producer(kafka)
    store = KvStore(kafka, producer)
    try:
        return _ACTIONS[action](store, namespace, key or "", value, options)
    except KvError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.close()
        producer.flush(10.0)


def _get(store: KvStore, namespace: str, key: str, _: str | None, options: dict[str, Any]) -> int:
    entry = store.get(namespace, key)
    if entry is None:
        console.print(f"no key {key!r} in namespace {namespace!r}", style="red")
        return 1
    if options.get("output") == "json":
        print_json(entry.to_dict() | {"value": entry.value})
    else:
        print(entry.value if isinstance(entry.value, str) else json.dumps(entry.value))
    return 0


def _set(store: KvStore, namespace: str, key: str, value: str | None, options: dict[str, Any]) -> int:
    if value is None:
        raise UsageError("kv set: VALUE is required")
    kv_type = options.get("kv_type")
    entry = store.put(
        namespace,
        key,
        _value(value, kv_type),
        kv_type=kv_type.upper() if kv_type else None,
        ttl=_ttl(options.get("ttl")),
        overwrite=not options.get("no_overwrite"),
    )
    console.print(f"set {namespace}/{key} ({entry.type.value})")
    return 0


def _list(store: KvStore, namespace: str, _key: str, _value: str | None, options: dict[str, Any]) -> int:
    entries = store.list(namespace)
    if options.get("output") == "json":
        print_json([e.summary() for e in entries])
        return 0
    rows = [
        [e.key, e.type.value, e.updated.isoformat(), e.expires_at.isoformat() if e.expires_at else "-"] for e in entries
    ]
    console.print(table(f"KV store of {namespace}", ["key", "type", "updated", "expires"], rows))
    return 0


def _delete(store: KvStore, namespace: str, key: str, _value: str | None, _options: dict[str, Any]) -> int:
    if not store.delete(namespace, key):
        console.print(f"no key {key!r} in namespace {namespace!r}", style="red")
        return 1
    console.print(f"deleted {namespace}/{key}")
    return 0


_ACTIONS = {"get": _get, "set": _set, "list": _list, "delete": _delete}
