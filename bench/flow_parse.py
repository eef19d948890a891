"""What starting a scheduler costs in parsing: 10,000 deployed flows read by both of its loops.

    .venv/bin/python bench/flow_parse.py                  # 10,000 flows
    .venv/bin/python bench/flow_parse.py --flows 1000

In one process, no server: the `flows` records as the topic holds them, read by the Schedule loop's
`OwnedFlows` (all partitions owned, as one scheduler has them) and by the Flow trigger loop's index (what
`FlowTriggers.follow_flows` does), each with its own copy of the bytes, as two readers of the topic have.
- separate: each loop parses on its own (before `scheduler/parsed.py`: every flow parsed twice);
- shared: both go through one `ParsedFlows` (now: once).
CPU seconds (process time), so the machine's other load inflates them less than wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.flow_triggers import source  # noqa: E402
from conveyor.common.deployed import DeployedFlow  # noqa: E402
from conveyor.common.tasks import registry  # noqa: E402
from conveyor.scheduler.flow_index import FlowTriggerIndex  # noqa: E402
from conveyor.scheduler.flow_triggers import _deployed_flow  # noqa: E402
from conveyor.scheduler.flows import OwnedFlows  # noqa: E402
from conveyor.scheduler.parsed import ParsedFlows  # noqa: E402

NS = "bench.flowtrig"


def records(count: int) -> dict[str, bytes]:
    cond = "io.kestra.plugin.core.condition."
    now = datetime.now(UTC)
    out = {}
    for i in range(count):
        text = source(f"d{i}", f"{{type: {cond}ExecutionFlow, namespace: {NS}, flowId: u{i}}}")
        deployed = DeployedFlow(namespace=NS, id=f"d{i}", revision=1, source=text, deployed_at=now)
        out[deployed.key] = deployed.to_json()
    return out


def start(table: dict[str, bytes], shared: bool) -> tuple[float, int]:
    """CPU seconds for both loops to load `table`, and how many parses were done."""
    schedule_cache = ParsedFlows()
    flow_cache = schedule_cache if shared else ParsedFlows()
    before = time.process_time()
    owned = OwnedFlows(3, schedule_cache)
    owned.update(table)
    owned.assign([0, 1, 2])
    index = FlowTriggerIndex()
    for key, raw in table.items():
        found = _deployed_flow(flow_cache, key, bytes(raw))  # its own copy, as another reader has
        index.update(key, *(found or (None, None)))
    spent = time.process_time() - before
    assert len(owned.flows) == len(table) and len(index) == len(table)
    return spent, schedule_cache.parsed + (0 if shared else flow_cache.parsed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=10_000)
    args = parser.parse_args()
    registry.resolve()
    table = records(args.flows)
    start(records(50), shared=True)  # warm the imports and caches
    print(f"\nScheduler start-up parsing, {datetime.now(UTC):%Y-%m-%d}: {args.flows} flows with a Flow trigger, "
          f"both loops of one scheduler (load average {os.getloadavg()[0]:.1f})\n")  # fmt: skip
    print("| parsing | parses | CPU s | ms per flow |\n|---|---:|---:|---:|")
    for label, shared in (("separate (before)", False), ("shared (now)", True)):
        spent, parses = start(table, shared)
        print(f"| {label} | {parses} | {spent:.1f} | {spent / args.flows * 1000:.2f} |")
    print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
