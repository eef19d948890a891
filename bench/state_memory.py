"""What the executor's state of one large execution holds, byte by byte, and what the process's RSS is.

    .venv/bin/python bench/state_memory.py                  # --values 100000

No Kafka: the pure core (`decide`, jobs kept encoded, as the executor runs it) drives a ForEach over N
values (`concurrencyLimit: 0`, one Return each) the way the live executor sees it when workers are slower
than it: every iteration started (one result per decision, each decision starting up to `MAX_STARTS`),
then every iteration ended, then the execution's end. At each phase it prints the state's parts in bytes
(each object counted once, by the first part that reaches it: `sys.getsizeof`, containers included), the
bytes per task run, and the process's RSS (and after `malloc_trim(0)`, what glibc then gives back).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import sys
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conveyor.common.events import TaskResult  # noqa: E402
from conveyor.common.launch import new_execution  # noqa: E402
from conveyor.common.loader import load_flow  # noqa: E402
from conveyor.common.state import StateType  # noqa: E402
from conveyor.executor.decide import decide  # noqa: E402
from conveyor.executor.env import Env  # noqa: E402
from conveyor.executor.plan import Plan  # noqa: E402
from conveyor.executor.state import ExecutionState  # noqa: E402
from tests.unit.sim import T0  # noqa: E402


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def trimmed_rss_kib() -> int:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_kib()


def deep(roots: Iterable[Any], seen: set[int]) -> int:
    """Bytes of these objects and everything they hold, skipping what `seen` has (then adding to it)."""
    total, stack = 0, list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (bool, int, float, type)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        elif hasattr(obj, "__slots__"):
            stack.extend(getattr(obj, s) for s in obj.__slots__ if hasattr(obj, s))
    return total


def parts(state: ExecutionState) -> list[tuple[str, int]]:
    """The state's parts in bytes; each object counted once (ids first: the indexes share their strings)."""
    seen: set[int] = set()
    runs = state.runs._items
    out = [
        ("task-run ids (str)", deep(runs.keys(), seen)),
        ("task runs' JSON (bytes)", deep(runs.values(), seen)),
        ("runs by id (dict)", deep([runs], seen)),
        ("index by (parent, task, value)", deep([state.by_key], seen)),
        ("index by task", deep([state.by_task], seen)),
        ("value paths, index by prefix", deep([state.paths, state.by_prefix], seen)),
        ("loops (values, open, dirty)", deep([state.loops], seen)),
        ("active attempts", deep([state.active], seen)),
        ("header, flow, timers, the rest", deep([state], seen)),
    ]
    return out


def report(phase: str, state: ExecutionState | None, held: int, base: int) -> None:
    rss, trimmed = rss_kib(), trimmed_rss_kib()
    print(f"\n{phase}: {held:,} task runs held; process RSS {rss / 1024:,.0f} MiB (+{(rss - base) / 1024:,.0f}),")
    print(f"  after gc + malloc_trim(0) {trimmed / 1024:,.0f} MiB (+{(trimmed - base) / 1024:,.0f})")
    if state is None:
        return
    rows = parts(state)
    total = sum(b for _, b in rows)
    print("\n| part | MiB | bytes per task run |")
    print("|---|---:|---:|")
    for name, size in [*rows, ("**state**", total)]:
        print(f"| {name} | {size / 2**20:,.1f} | {size / max(held, 1):,.0f} |")


def run(args: argparse.Namespace) -> int:
    gc.freeze()  # as the services do after start-up (`cli`): the code's objects are not walked
    flow = load_flow(
        "id: memory\nnamespace: bench\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n"
        f'    concurrencyLimit: 0\n    values: "{{{{ range({args.values}) | list }}}}"\n    tasks:\n'
        '      - {id: r, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.value }}"}\n'
    )
    plan, env, now = Plan.of(flow), Env.seeded(T0, 11), T0
    base = trimmed_rss_kib()
    decision = decide(None, plan, new_execution(flow, now=T0, execution_id="e", event_id="c"), env.at(now))
    state = decision.state
    jobs: list[tuple[str, int]] = [(run_id, 1) for run_id, _ in decision.encoded]
    done = 0

    def end(job: tuple[str, int]) -> None:
        nonlocal now, state
        now += timedelta(microseconds=100)
        run_id, attempt = job
        result = TaskResult(
            execution_id="e",
            task_run_id=run_id,
            attempt=attempt,
            state=StateType.SUCCESS,
            date=now,
            worker_id="w",
            outputs={"value": run_id[:8]},
        )
        out = decide(state, plan, result, env.at(now))
        state = out.state
        jobs.extend((i, 1) for i, _ in out.encoded)

    # every iteration started: one result per decision, each starting up to MAX_STARTS more
    while len(state.runs) < args.values + 1 and jobs:
        end(jobs.pop(0))
        done += 1
    report(f"all {args.values:,} iterations started ({done} ended)", state, len(state.runs), base)
    while jobs:
        end(jobs.pop(0))
    final = state.header.state.current
    report(f"every iteration ended, execution {final}", state, len(state.runs), base)
    return base


def forgotten(base: int) -> None:
    report("the execution forgotten (the state dropped)", None, 0, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=100_000, help="values of the ForEach")
    forgotten(run(parser.parse_args()))


if __name__ == "__main__":
    main()
