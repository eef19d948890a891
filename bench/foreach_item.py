"""ForEachItem over a large file: one child execution per batch.

    .venv/bin/python bench/foreach_item.py                          # 100,000 lines in batches of 100
    .venv/bin/python bench/foreach_item.py --cases 1000:100,100000:100 --workers 2

Each case (`LINES:ROWS`) runs on fresh services (2 executors, `--workers` workers, 1 indexer) under a topic
and index prefix of its own, with the local-directory storage in a temporary folder: the child flow is
deployed (a `flows` record), a file of LINES lines is stored as the parent's FILE input, and the parent
(one ForEachItem, `batch: {rows: ROWS}`, `wait: true`) is submitted after 20 one-task executions (groups
joined, code loaded). For each case:
- wall: the parent's CREATED date to its end date, as the system records them;
- children/s: the child executions (LINES / ROWS) over the wall time;
- executor CPU / worker CPU: user + system seconds of the executor processes (both) and of the workers
  from the submission to the end (/proc/<pid>/stat); the split and the merge run on a worker, so the
  executors' share is only the children's bookkeeping;
- largest record: the largest key + value written to the topics the executors write (executor-state,
  executions, taskruns, worker-jobs, execution-events, logs) from the submission to the end, and its topic;
  it must not grow with the number of batches.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from sizes import RecordScan
from throughput import ONE, Bench, drop, new_bench, servers

from conveyor.common.clock import utcnow
from conveyor.common.deployed import DeployedFlow
from conveyor.common.ids import new_id
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.storage import ExecutionScope, StorageSettings, open_storage
from tests.child_flows import items_text

CHILD = """\
id: batch
namespace: bench.items
inputs:
  - {id: items, type: STRING}
tasks:
  - {id: t, type: io.kestra.plugin.core.debug.Return, format: "{{ inputs.items }}"}
"""

PARENT = """\
id: parent
namespace: bench.items
inputs:
  - {id: file, type: FILE}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch: {rows: ROWS}
    namespace: bench.items
    flowId: batch
    inputs:
      items: "{{ taskrun.items }}"
"""


def deploy(bench: Bench, source: str) -> None:
    flow = load_flow(source)
    deployed = DeployedFlow(namespace=flow.namespace, id=flow.id, revision=1, source=source, deployed_at=utcnow())
    bench.producer.send(bench.topics.flows, deployed.key, deployed.to_json())
    bench.producer.send(bench.topics.flow_revisions, deployed.revision_key, deployed.to_json())
    bench.producer.flush()


def measure(bench: Bench, root: Path, lines: int, rows: int, workers: int, timeout: float) -> list[str]:
    bench.env["CONVEYOR_STORAGE_LOCAL_ROOT"] = str(root)
    for name in ("executor-1", "executor-2"):
        bench.start(name, "executor")
    bench.start("indexer", "indexer")
    bench.workers(workers)
    deploy(bench, CHILD)
    bench.wait(bench.burst(bench.created(ONE, 20)), timeout=300)
    flow = load_flow(PARENT.replace("ROWS", str(rows)))
    execution_id = new_id()
    uri = ExecutionScope(flow.namespace, flow.id, execution_id).input_file("file", "items.txt")
    data = items_text(lines).encode()
    open_storage(StorageSettings(local_root=root)).put(uri, io.BytesIO(data))
    scan = RecordScan(bench.kafka)
    cpu_before = bench.cpu()
    created = new_execution(flow, {"file": uri}, execution_id=execution_id)
    started = time.monotonic()
    bench.burst([created])
    while execution_id not in bench.ended and time.monotonic() - started < timeout:
        bench.read_final(0.2)
    cpu_after = bench.cpu()
    largest, topic, _ = scan.finish()
    batches = -(-lines // rows)
    used = {name: cpu_after.get(name, 0.0) - cpu_before.get(name, 0.0) for name in ("executor", "worker")}
    final = bench.ended.get(execution_id)
    if final is None:
        wall_text, rate = f"timeout after {timeout:.0f} s", "-"
    else:
        wall = final["ended"] - final["created"]
        state = "" if final["state"] == "SUCCESS" else f" {final['state']}"
        wall_text, rate = f"{wall:,.1f} s{state}", f"{batches / wall:,.1f}"
    return [
        f"{lines:,}",
        f"{batches:,}",
        wall_text,
        rate,
        f"{used['executor']:,.1f} s",
        f"{used['worker']:,.1f} s",
        f"{largest:,} ({topic})",
    ]


COLUMNS = ("items", "batches", "wall", "children/s", "executor CPU", "worker CPU", "largest record B (topic)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="100000:100", help="LINES:ROWS, comma-separated (default 100000:100)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="attempts one worker runs at once")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the bench topics")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one case may take")
    parser.add_argument("--local", action="store_true", help="start fresh Kafka and Elasticsearch servers")
    args = parser.parse_args()
    cases = [tuple(int(n) for n in c.split(":")) for c in args.cases.split(",") if c.strip()]
    print("Conveyor benchmark: ForEachItem over a large file")
    print(f"  date     {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"  machine  {os.cpu_count()} cores, {platform.platform()}, load average {os.getloadavg()[0]:.2f}; "
        f"2 executors, {args.workers} worker(s) x {args.concurrency}, 1 indexer, {args.partitions} partitions"
    )
    rows: list[list[str]] = []
    with ExitStack() as stack:
        bootstrap, es_url, groups = servers(stack, args.local)
        for lines, per_batch in cases:
            print(f"  case {lines:,} lines / {per_batch} ...", file=sys.stderr, flush=True)
            root = Path(tempfile.mkdtemp(prefix="conveyor-items-"))
            bench = new_bench(bootstrap, es_url, groups, args.partitions, args.concurrency)
            try:
                rows.append(measure(bench, root, lines, per_batch, args.workers, args.timeout))
            finally:
                bench.close()
                drop(bench)
            print("    " + " | ".join(rows[-1]), file=sys.stderr, flush=True)
    widths = [max(len(r[c]) for r in [list(COLUMNS), *rows]) for c in range(len(COLUMNS))]
    for row in [list(COLUMNS), *rows]:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\n  load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores: other work shares them")


if __name__ == "__main__":
    main()
