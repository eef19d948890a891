"""The kv tasks (`io.kestra.plugin.core.kv.Set`, `Get`, `Delete`) as a worker runs them, on the real `kv` topic:
a missing key with `errorOnMissing` and an existing one with `overwrite: false` fail in the reference's words;
a flow reaches its own namespace's store and its parents', another only by a rule of
`CONVEYOR_NAMESPACES_ALLOWED` (the same for `kv()` in a task's property)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conveyor.common import namespace_access
from conveyor.common.events import TaskResult
from conveyor.common.kafka.producer import Producer
from conveyor.common.kv import KvStore
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import StateType
from conveyor.worker.attempt import Attempt
from conveyor.worker.testing import make_job

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NS = "company.team"  # the namespace of make_job's task runs
KV = "io.kestra.plugin.core.kv"


@pytest.fixture
def store(kafka_settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[KvStore]:
    monkeypatch.delenv("CONVEYOR_NAMESPACES_ALLOWED", raising=False)
    namespace_access.settings.cache_clear()
    kv = KvStore(kafka_settings, Producer(kafka_settings))
    yield kv
    kv.close()
    namespace_access.settings.cache_clear()


def run(store: KvStore, task: dict[str, Any]) -> TaskResult:
    job = make_job({"id": "t", **task}, {"flow": {"namespace": NS, "id": "test"}})
    result = Attempt(job, kv=store).run()
    assert result is not None
    return result


def test_a_missing_key_with_error_on_missing_fails_in_the_references_words(store: KvStore) -> None:
    for kind in ("Get", "Delete"):
        result = run(store, {"type": f"{KV}.{kind}", "key": "absent", "errorOnMissing": True})
        assert result.state is StateType.FAILED
        assert result.error == (
            "No value found for key 'absent' in namespace 'company.team' and `errorOnMissing` is set to true"
        )
        lenient = run(store, {"type": f"{KV}.{kind}", "key": "absent"})
        assert lenient.state is StateType.SUCCESS
        assert lenient.outputs == ({"value": None} if kind == "Get" else {"deleted": False})


def test_an_existing_key_with_overwrite_false_fails_in_the_references_words(store: KvStore) -> None:
    assert run(store, {"type": f"{KV}.Set", "key": "once", "value": 1}).state is StateType.SUCCESS
    again = run(store, {"type": f"{KV}.Set", "key": "once", "value": 2, "overwrite": False})
    assert again.state is StateType.FAILED
    assert again.error == "Cannot set value for key 'once'. Key already exists and `overwrite` is set to `false`."
    assert run(store, {"type": f"{KV}.Get", "key": "once"}).outputs == {"value": 1}


def test_a_flow_reaches_its_parents_store_and_others_only_when_allowed(
    store: KvStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("company", "region", "eu")
    store.put("shared", "colour", "red")
    assert run(store, {"type": f"{KV}.Get", "key": "region", "namespace": "company"}).outputs == {"value": "eu"}
    denied = "Cannot access the KV store. Access to 'shared' namespace is not allowed from 'company.team'."
    for task in (
        {"type": f"{KV}.Get", "key": "colour", "namespace": "shared"},
        {"type": f"{KV}.Set", "key": "colour", "value": "blue", "namespace": "shared"},
        {"type": f"{KV}.Delete", "key": "colour", "namespace": "shared"},
        {"type": "io.kestra.plugin.core.debug.Return", "format": "{{ kv('colour', namespace='shared') }}"},
    ):
        result = run(store, task)
        assert result.state is StateType.FAILED and result.error is not None and denied in result.error, task
    assert store.get("shared", "colour").value == "red"  # type: ignore[union-attr]

    monkeypatch.setenv("CONVEYOR_NAMESPACES_ALLOWED", '{"shared": ["company.*"]}')
    namespace_access.settings.cache_clear()
    ret = {"type": "io.kestra.plugin.core.debug.Return", "format": "{{ kv('colour', namespace='shared') }}"}
    assert run(store, ret).outputs == {"value": "red"}
    assert run(store, {"type": f"{KV}.Set", "key": "colour", "value": "blue", "namespace": "shared"}).error is None
    assert run(store, {"type": f"{KV}.Get", "key": "colour", "namespace": "shared"}).outputs == {"value": "blue"}
