"""The cluster fault scenario at full size: 5,000 executions of mixed flows on 3 Kafka brokers and 3
Elasticsearch nodes while, one after another, the leading broker, the active controller, every broker in turn,
an Elasticsearch node, an executor and a worker are killed or restarted and the indices made read-only.

    .venv/bin/python bench/cluster_faults.py [--executions 5000] [--timeout 3600]

Starts its own clusters (loopback, free ports, small heaps) and services, and stops them at the end. Prints
one table: per fault its wave's executions, duration, executions per second and longest stall (no execution
ending while some were running), then the checks: every execution ended as expected, each expected task run
once, Elasticsearch equal to the compacted `executions` and `taskruns` topics (each execution with its
revision, state and task-run count; each task run with its revision and state; none missing, none twice).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conveyor.common.servers.local import start_local_cluster
from tests.e2e.cluster_scenario import Scenario, start_stack, stop_stack, table
from tests.e2e.test_faults import check_executions, check_index_matches_kafka


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for the whole scenario")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="conveyor-bench-cluster-"))
    kafka, es = start_local_cluster(base)
    stack = start_stack(kafka, es, base / "logs")
    try:
        stack.wait_for_workers(3, timeout=120)
        scenario = Scenario(stack, kafka, es)
        started = time.monotonic()
        try:
            phases = scenario.run(args.executions, args.timeout)
            assert scenario.snapshots is not None
            lost = check_executions(scenario.snapshots, scenario.submitted)
        finally:
            scenario.close()
        indexed = check_index_matches_kafka(stack, timeout=600)
        print(table(phases))
        print(
            f"{len(scenario.submitted)} executions in {time.monotonic() - started:.0f} s, all as expected; "
            f"executions and {indexed} task runs in Elasticsearch equal to the compacted topics; "
            f"{lost} attempts lost with a worker and run again"
        )
    finally:
        stop_stack(stack)
        es.stop()
        kafka.stop()


if __name__ == "__main__":
    main()
