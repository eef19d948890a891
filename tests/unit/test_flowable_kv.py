"""`kv()` in the properties the executor renders (ForEach `values`, If `condition`, Switch `value`, LoopUntil
`condition`, runIf), through the executor core with an in-memory KV reader in its `Env`; a missing key fails
the flowable's task run with the reference's message. The reader on the real `kv` topic, read at most once
per batch and partition: tests/integration/test_executor_kv.py."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.common import namespace_access
from conveyor.common.kv import KvEntry, KvType
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.state import StateType
from tests.unit.sim import T0, Sim

S = StateType
NS = "company.team"


class Store:
    """A KV reader over a dict, counting its look-ups."""

    def __init__(self, values: dict[tuple[str, str], Any]) -> None:
        self.values = values
        self.reads: list[tuple[str, str]] = []

    def get(self, namespace: str, key: str) -> KvEntry | None:
        self.reads.append((namespace, key))
        if (namespace, key) not in self.values:
            return None
        return KvEntry(namespace=namespace, key=key, type=KvType.JSON, value=self.values[(namespace, key)])


def run(tasks: str, store: Store | None) -> Sim:
    flow = load_flow(f"id: kvflow\nnamespace: {NS}\ntasks:\n{tasks}")
    sim = Sim(flow)
    if store is not None:
        sim.env.kv = store
    sim.send(new_execution(flow, {}, now=T0, execution_id=sim.env.ids(), event_id=sim.env.ids()))
    sim.until_done()
    return sim


def error_lines(sim: Sim, task_id: str) -> list[str]:
    return [line["message"] for line in sim.log_lines if line["taskId"] == task_id and line["level"] == "ERROR"]


def test_foreach_values_come_from_the_kv_store() -> None:
    store = Store({(NS, "regions"): ["eu", "us"]})
    sim = run(
        """
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ kv('regions') }}"
    tasks:
      - {id: show, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.value }}"}
""",
        store,
    )
    assert sim.current() == S.SUCCESS
    assert [r.outputs for r in sim.runs("show")] == [{"value": "eu"}, {"value": "us"}]
    assert store.reads == [(NS, "regions")]  # rendered once, when the loop starts


def test_if_and_switch_read_the_kv_store_of_another_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_NAMESPACES_ALLOWED", '{"other.ns": ["company.team"]}')
    namespace_access.settings.cache_clear()
    store = Store({("other.ns", "enabled"): True, (NS, "mode"): "fast"})
    sim = run(
        """
  - id: gate
    type: io.kestra.plugin.core.flow.If
    condition: "{{ kv('enabled', namespace='other.ns') }}"
    then:
      - {id: then_,  type: io.kestra.plugin.core.debug.Return, format: "then"}
    else:
      - {id: else_, type: io.kestra.plugin.core.debug.Return, format: "else"}
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ kv('mode') }}"
    cases:
      fast:
        - {id: quick, type: io.kestra.plugin.core.debug.Return, format: "fast"}
    defaults:
      - {id: slow, type: io.kestra.plugin.core.debug.Return, format: "slow"}
""",
        store,
    )
    assert sim.current() == S.SUCCESS
    assert sim.states("then_") == [S.SUCCESS] and sim.runs("else_") == []
    assert sim.states("quick") == [S.SUCCESS] and sim.runs("slow") == []
    namespace_access.settings.cache_clear()


def test_a_flowable_cannot_read_another_namespaces_store_without_a_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVEYOR_NAMESPACES_ALLOWED", raising=False)
    namespace_access.settings.cache_clear()
    store = Store({("other.ns", "enabled"): True, ("company", "enabled"): True})
    tasks = """
  - id: gate
    type: io.kestra.plugin.core.flow.If
    condition: "{{ kv('enabled', namespace='%s') }}"
    then:
      - {id: then_,  type: io.kestra.plugin.core.debug.Return, format: "then"}
"""
    assert run(tasks % "company", store).states("then_") == [S.SUCCESS]  # a parent's store
    sim = run(tasks % "other.ns", store)
    assert sim.current() == S.FAILED and sim.runs("then_") == []
    [message] = error_lines(sim, "gate")
    assert "Access to 'other.ns' namespace is not allowed from 'company.team'." in message
    assert store.reads == [("company", "enabled")]


def test_a_missing_key_fails_the_flowable_with_the_references_message() -> None:
    sim = run(
        """
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ kv('nothing') }}"
    tasks:
      - {id: show, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.value }}"}
""",
        Store({}),
    )
    assert sim.current() == S.FAILED
    assert sim.states("each") == [S.FAILED] and sim.runs("show") == []
    [message] = error_lines(sim, "each")
    assert "The key 'nothing' does not exist in the namespace 'company.team'." in message
    assert "{{ kv('nothing') }}" in message


def test_error_on_missing_false_gives_null_and_a_default_applies() -> None:
    sim = run(
        """
  - id: gate
    type: io.kestra.plugin.core.flow.If
    condition: "{{ kv('flag', errorOnMissing=false) ?? false }}"
    then:
      - {id: then_,  type: io.kestra.plugin.core.debug.Return, format: "then"}
    else:
      - {id: else_, type: io.kestra.plugin.core.debug.Return, format: "else"}
""",
        Store({}),
    )
    assert sim.current() == S.SUCCESS
    assert sim.states("else_") == [S.SUCCESS] and sim.runs("then_") == []


def test_loop_until_and_run_if_read_the_kv_store() -> None:
    store = Store({(NS, "stop_after"): 2, (NS, "skip"): False})
    sim = run(
        """
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.loop.iterationCount >= kv('stop_after') }}"
    checkFrequency: {interval: PT1S, maxIterations: 5}
    tasks:
      - {id: step, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.loop.iterationCount }}"}
  - {id: maybe, type: io.kestra.plugin.core.debug.Return, format: "ran", runIf: "{{ kv('skip') }}"}
""",
        store,
    )
    assert sim.current() == S.SUCCESS
    assert len(sim.runs("step")) == 2
    assert sim.states("maybe") == [S.SKIPPED]


def test_without_a_kv_store_the_flowable_fails_naming_it() -> None:
    sim = run(
        """
  - id: gate
    type: io.kestra.plugin.core.flow.If
    condition: "{{ kv('flag') }}"
    then:
      - {id: then_,  type: io.kestra.plugin.core.debug.Return, format: "then"}
""",
        None,
    )
    assert sim.current() == S.FAILED
    [message] = error_lines(sim, "gate")
    assert "kv(): this process reads no KV store" in message
