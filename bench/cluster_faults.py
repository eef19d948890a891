"""The cluster fault scenario at full size: 5,000 executions of mixed flows on 3 Kafka brokers and 3
Elasticsearch nodes while, one after another, the leading broker, the active controller, every broker in turn,
an Elasticsearch node, an executor and a worker are killed or restarted and the indices made read-only.

    .venv/bin/python bench/cluster_faults.py [--executions 5000] [--timeout 3600] [--on up|own]
        [--faults leader,controller,rolling,es-node,services,read-only]

`--on up` (the default) runs `conveyor up --cluster` (3 brokers, 3 nodes, one executor, 3 workers, an
indexer, the scheduler and the server, 6 partitions) as its child, and each fault kills a process by its pid
from `stack.json`: `up`'s supervisor starts it again, as it would for an operator (`tests/e2e/up_faults.py`).
`--on own` starts the clusters itself with 2 executors, 3 workers and an indexer, and restarts or replaces
what it killed (`tests/e2e/cluster_scenario.py`, as `tests/e2e/test_cluster_faults.py` does with 60).
Either way everything runs on loopback (free ports, small heaps) and is stopped at the end. Prints
one table: per fault its wave's executions, duration, executions per second and longest stall (no execution
ending while some were running), then the checks: every execution ended as expected, each expected task run
once, Elasticsearch equal to the compacted `executions` and `taskruns` topics (each execution with its
revision, state and task-run count; each task run with its revision and state; none missing, none twice).

`--faults` applies only those (in that order), `--executions` then split among them. Every step of a fault
(signal sent, process ended, started again, broker registered, replicas in sync) is logged with its UTC time,
and each phase's longest stall with the time it began; the services' logs (`home/logs/`) and the servers'
(`home/data/`) stay in the folder printed at the start, to find what the stall waited for.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conveyor.common.servers.local import start_local_cluster
from tests.e2e.cluster_scenario import FAULT_KEYS, ClusterFaults, Faults, Scenario, start_stack, stop_stack, table
from tests.e2e.conftest import Stack
from tests.e2e.test_faults import check_executions, check_index_matches_kafka
from tests.e2e.up_faults import UpFaults, up_cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for the whole scenario")
    parser.add_argument("--on", choices=["up", "own"], default="up", help="conveyor up --cluster, or own clusters")
    parser.add_argument("--faults", default=",".join(FAULT_KEYS), help="the faults to apply, in order (comma list)")
    args = parser.parse_args()
    only = [key for key in args.faults.split(",") if key]
    if unknown := set(only) - set(FAULT_KEYS):
        parser.error(f"--faults: unknown {', '.join(sorted(unknown))} (known: {', '.join(FAULT_KEYS)})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stdout)
    logging.Formatter.converter = time.gmtime
    for noisy in ("elastic_transport", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    base = Path(tempfile.mkdtemp(prefix="conveyor-bench-cluster-"))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {_load()}; {args.executions} executions on {args.on}, "
        f"faults {', '.join(only)}; logs under {base}",
        flush=True,
    )
    with ExitStack() as running:
        if args.on == "up":
            stack, home = running.enter_context(up_cluster(base))
            faults: Faults = UpFaults(stack, home)
        else:
            kafka, es = start_local_cluster(base)
            running.callback(kafka.stop)
            running.callback(es.stop)
            stack = start_stack(kafka, es, base / "logs")
            running.callback(stop_stack, stack)
            stack.wait_for_workers(3, timeout=120)
            faults = ClusterFaults(stack, kafka, es)
        print(f"cluster and services up at {datetime.now(UTC):%H:%M} UTC, load {_load()}", flush=True)
        _run(stack, Scenario(stack, faults, only=only), args.executions, args.timeout)
    print(f"ended {datetime.now(UTC):%H:%M} UTC, load {_load()}; everything stopped")


def _run(stack: Stack, scenario: Scenario, executions: int, timeout: float) -> None:
    started = time.monotonic()
    try:
        phases = scenario.run(executions, timeout)
        assert scenario.snapshots is not None
        lost = check_executions(scenario.snapshots, scenario.submitted)
    except BaseException:
        print(stack.tail(40))
        raise
    finally:
        scenario.close()
    indexed = check_index_matches_kafka(stack, timeout=600)
    print(table(phases))
    print(
        f"{len(scenario.submitted)} executions in {time.monotonic() - started:.0f} s, all as expected; "
        f"executions and {indexed} task runs in Elasticsearch equal to the compacted topics; "
        f"{lost} attempts lost with a worker and run again"
    )


def _load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
