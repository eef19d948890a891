"""KV semantics without a broker: the reference's value types, key and namespace rules, TTL expiry, and
what `tasks.<id>.state` reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.common.kv import KvEntry, KvError, KvType, check_key, typed
from conveyor.executor.plan import state_reads


@pytest.mark.parametrize(
    ("value", "kv_type", "expected"),
    [
        ("text", None, (KvType.STRING, "text")),
        (42, None, (KvType.NUMBER, 42)),
        (1.5, None, (KvType.NUMBER, 1.5)),
        (True, None, (KvType.BOOLEAN, True)),
        ({"a": 1}, None, (KvType.JSON, {"a": 1})),
        ([1, 2], None, (KvType.JSON, [1, 2])),
        ("42", "NUMBER", (KvType.NUMBER, 42)),
        ("2.5", KvType.NUMBER, (KvType.NUMBER, 2.5)),
        ("TRUE", "BOOLEAN", (KvType.BOOLEAN, True)),
        ('{"a": [1]}', "JSON", (KvType.JSON, {"a": [1]})),
        ("2026-12-02T10:00:00+00:00", "DATETIME", (KvType.DATETIME, "2026-12-02T10:00:00+00:00")),
        ("2026-12-02", "DATE", (KvType.DATE, "2026-12-02")),
        ("pt1h", "DURATION", (KvType.DURATION, "PT1H")),
        (7, "STRING", (KvType.STRING, "7")),
    ],
)
def test_values_take_the_type_given_or_their_own(value: Any, kv_type: Any, expected: tuple[KvType, Any]) -> None:
    assert typed(value, kv_type) == expected


@pytest.mark.parametrize(
    ("value", "kv_type"),
    [("abc", "NUMBER"), ("yes", "BOOLEAN"), ("{", "JSON"), ("tomorrow", "DATE"), ("soon", "DURATION")],
)
def test_a_value_that_does_not_fit_its_type_is_refused_naming_the_field(value: str, kv_type: str) -> None:
    with pytest.raises(KvError, match=f"value: does not fit kvType {kv_type}"):
        typed(value, kv_type)


def test_null_is_refused() -> None:
    with pytest.raises(KvError, match="value: null"):
        typed(None, None)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="COLOUR"):
        typed("x", "COLOUR")


@pytest.mark.parametrize(("namespace", "key"), [("Upper.Case", "k"), ("ns", "has space"), ("ns", "../x"), ("", "k")])
def test_bad_keys_and_namespaces_are_refused(namespace: str, key: str) -> None:
    with pytest.raises(KvError):
        check_key(namespace, key)


def test_an_entry_expires_at_its_ttl() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    entry = KvEntry(namespace="ns", key="k", type=KvType.STRING, value="v", expires_at=now + timedelta(hours=1))
    assert not entry.expired(now)
    assert not entry.expired(now + timedelta(minutes=59))
    assert entry.expired(now + timedelta(hours=1))
    assert not KvEntry(namespace="ns", key="k", type=KvType.STRING, value="v").expired(now + timedelta(days=999))


def test_an_entry_round_trips_as_the_topic_holds_it() -> None:
    entry = KvEntry(namespace="ns", key="k", type=KvType.JSON, value={"a": [1, None]})
    assert KvEntry.model_validate_json(entry.to_json()) == entry
    assert "value" not in entry.summary() and entry.summary()["type"] == "JSON"


def test_state_reads_finds_the_tasks_named() -> None:
    assert state_reads("{{ tasks.a.state }} {{ tasks['b-c'].state }}") == {"a", "b-c"}
    assert state_reads("{{ outputs.x.value }} {{ vars.tasks }}") == set()
    assert state_reads("{{ tasks }}") is None
