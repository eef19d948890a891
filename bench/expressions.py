"""Expressions: what one render costs, and how fast an over-limit jq gives up.

    .venv/bin/python bench/expressions.py [--repeat 20]

Each case renders one template (compiled once and cached, as in the services) `--repeat` times with the
default limits (`CONVEYOR_JQ_TIMEOUT`, `CONVEYOR_JQ_MAX_RESULT`) and prints the median and the slowest render.
A case marked "fails" must raise `RenderError` (the task run would fail); its time is how long the executor
is held before it does. Pure CPU, no servers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from conveyor.common.errors import RenderError
from conveyor.common.render import render

CONTEXT: dict[str, Any] = {
    "outputs": {"t": {"value": [{"id": i, "price": i * 1.5} for i in range(1000)]}},
    "vars": {"name": "Hello World", "when": "2024-02-24T22:00:00Z"},
}
CASES = [
    ("plain variable", "{{ vars.name }}", False),
    ("filters chain", "{{ vars.name | slugify | upper | substringBefore('-') }}", False),
    ("date + dateAdd", "{{ vars.when | dateAdd(-1, 'DAYS') | date('yyyy-MM-dd', timeZone='Europe/Paris') }}", False),
    ("?? on a missing key", "{{ vars.block[missing].child ?? 'x' }}", False),
    ("jq over 1,000 items", "{{ outputs.t.value | jq('map(.price) | add') | first }}", False),
    ("range(1, 1000) loop", "{% for i in range(1, 1000) %}{{ i }}{% endfor %}", False),
    ("jq [range(20000000)] (over limit)", "{{ 1 | jq('[range(20000000)]') | length > 0 }}", True),
    ("range(0, 10000000) (over limit)", "{{ range(0, 10000000) }}", True),
]


def _once(template: str, fails: bool) -> float:
    start = time.perf_counter()
    try:
        render(template, CONTEXT)
    except RenderError:
        if not fails:
            raise
    else:
        if fails:
            raise SystemExit(f"expected a failure: {template}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print("| expression | outcome | median ms | slowest ms |")
    print("|---|---|---:|---:|")
    for name, template, fails in CASES:
        _once(template, fails)  # compiled and cached, as after a service's first render
        times = [_once(template, fails) for _ in range(args.repeat)]
        outcome = "fails (task run FAILED)" if fails else "renders"
        print(f"| {name} | {outcome} | {statistics.median(times) * 1000:.3f} | {max(times) * 1000:.3f} |")


if __name__ == "__main__":
    main()
