"""Everything a decision may draw from the world: the clock, ids, randomness, the deployed flows and the KV
store (`kv()` in flowable properties).

`decide` receives an `Env` and takes nothing else from outside, so a decision is a function of its
inputs: replayed with the same `Env` (a fixed clock, a seeded id source and random source), the same
events give the same decisions, byte for byte (`tests/unit/test_determinism.py`). The shell passes
`Env.live()`: the wall clock, random ids and a random source seeded from the OS.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from conveyor.common.clock import utcnow
from conveyor.common.ids import LENGTH, new_id

if TYPE_CHECKING:
    from conveyor.common.expr_context import KvReader
    from conveyor.common.flow import Flow

# The deployed flow `namespace`.`id` at `revision` (None: the latest); raises `LookupError` saying why there is
# none (never deployed, deleted, disabled, no longer valid). Subflow and ForEachItem find their child's flow here.
FlowLookup = Callable[[str, str, "int | None"], "Flow"]


def no_flows(namespace: str, flow_id: str, revision: int | None) -> Flow:
    raise LookupError(f"flow {namespace}.{flow_id} is not deployed (this executor reads no deployed flows)")


_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# The live random source, seeded from the OS once per process: seeding one per decision (a `random.Random()`
# reads os.urandom and hashes it) cost 5 % of the executor's CPU at 400 executions/s (py-spy, 2026-12-04).
_LIVE_RANDOM = random.Random()


@dataclass
class Env:
    now: datetime
    ids: Callable[[], str] = new_id
    rand: random.Random = field(default_factory=lambda: _LIVE_RANDOM)
    flows: FlowLookup = no_flows
    # What `kv()` reads in flowable properties (None: it fails the task run, "this process reads no KV store").
    kv: KvReader | None = None

    @classmethod
    def live(cls, now: datetime | None = None, flows: FlowLookup = no_flows, kv: KvReader | None = None) -> Env:
        return cls(now or utcnow(), flows=flows, kv=kv)

    @classmethod
    def seeded(cls, now: datetime, seed: int) -> Env:
        """A reproducible environment: ids and random draws follow from `seed`."""
        source = random.Random(seed)

        def ids() -> str:
            return "".join(source.choice(_ALPHABET) for _ in range(LENGTH))

        return cls(now, ids, random.Random(seed + 1))

    def at(self, now: datetime) -> Env:
        """The same sources at another time (the simulator moves its clock between events)."""
        return Env(now, self.ids, self.rand, self.flows, self.kv)
