"""One parse per deployed flow per process (`scheduler/parsed.py`): the Schedule loop's `OwnedFlows` and the
Flow trigger loop share it, so a flow both read is parsed once; a new revision is parsed again; a deleted
or unreadable record gives no flow (and says why)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

from conveyor.common.deployed import DeployedFlow
from conveyor.scheduler.flow_triggers import FlowTriggers
from conveyor.scheduler.flows import OwnedFlows
from conveyor.scheduler.parsed import SHARED, ParsedFlows
from conveyor.scheduler.service import Scheduler

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def record(flow_id: str, revision: int = 1, deleted: bool = False, body: str = "format: x") -> bytes:
    source = f"id: {flow_id}\nnamespace: ns\ntasks:\n  - {{id: t, type: io.kestra.plugin.core.debug.Return, {body}}}\n"
    deployed = DeployedFlow(namespace="ns", id=flow_id, revision=revision, source=source, deployed_at=NOW,
                            deleted=deleted)  # fmt: skip
    return deployed.to_json()


def test_the_same_record_is_parsed_once_and_the_same_objects_are_shared() -> None:
    cache = ParsedFlows()
    raw = record("a")
    first = cache.get("ns/a", raw)
    again = cache.get("ns/a", bytes(raw))  # an equal copy, as another reader of `flows` holds it
    assert first.flow is not None and first.flow.revision == 1
    assert again is first and (cache.parsed, cache.shared) == (1, 1)
    newer = cache.get("ns/a", record("a", 2))
    assert newer.flow is not None and newer.flow.revision == 2 and cache.parsed == 2
    cache.forget("ns/a")
    assert cache.get("ns/a", raw) is not first and cache.parsed == 3


def test_deleted_and_unreadable_records_give_no_flow() -> None:
    cache = ParsedFlows()
    deleted = cache.get("ns/a", record("a", deleted=True))
    assert deleted.flow is None and deleted.error is None and deleted.deployed is not None
    bad = cache.get("ns/b", record("b", body="nope: 1"))
    assert bad.flow is None and bad.error is not None and "nope" in bad.error
    garbage = cache.get("ns/c", b"{not json")
    assert garbage.flow is None and garbage.deployed is None and garbage.error


def test_owned_flows_and_a_second_reader_parse_each_flow_once() -> None:
    cache = ParsedFlows()
    table = {f"ns/f{i}": record(f"f{i}") for i in range(20)}
    owned = OwnedFlows(1, cache)
    owned.update(table)
    changes = owned.assign([0])
    assert len(changes) == 20 and cache.parsed == 20
    # The Flow trigger loop reads the same records (its own copies of the bytes): nothing parsed again.
    flows = [cache.get(key, bytes(raw)).flow for key, raw in table.items()]
    assert cache.parsed == 20 and flows == [owned.flows[key] for key in table]
    assert all(a is b for a, b in zip(flows, (owned.flows[key] for key in table), strict=True))


def test_both_loops_of_conveyor_scheduler_use_the_one_shared_cache_by_default() -> None:
    # `run_scheduler` builds both loops with their defaults: the process's one `ParsedFlows`
    assert inspect.signature(Scheduler).parameters["parsed"].default is SHARED
    assert inspect.signature(FlowTriggers).parameters["parsed"].default is SHARED
    assert inspect.signature(OwnedFlows).parameters["parsed"].default is SHARED
