"""Everything a decision may draw from the world: the clock, ids and randomness.

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

from conveyor.common.clock import utcnow
from conveyor.common.ids import LENGTH, new_id

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class Env:
    now: datetime
    ids: Callable[[], str] = new_id
    rand: random.Random = field(default_factory=random.Random)

    @classmethod
    def live(cls, now: datetime | None = None) -> Env:
        return cls(now or utcnow())

    @classmethod
    def seeded(cls, now: datetime, seed: int) -> Env:
        """A reproducible environment: ids and random draws follow from `seed`."""
        source = random.Random(seed)

        def ids() -> str:
            return "".join(source.choice(_ALPHABET) for _ in range(LENGTH))

        return cls(now, ids, random.Random(seed + 1))

    def at(self, now: datetime) -> Env:
        """The same sources at another time (the simulator moves its clock between events)."""
        return Env(now, self.ids, self.rand)
