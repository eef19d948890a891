"""Typing and checking inputs: how `parse_inputs` grows with the number of declared inputs, and what the
SECRET check costs an expression that reads inputs.

    .venv/bin/python bench/inputs.py
    .venv/bin/python bench/inputs.py --sizes 10,100,1000 --repeat 200

For each size N, a flow declares N inputs cycling through STRING (with a validator), INT (min/max), DATE
(after), DURATION (max), SELECT, ARRAY of INT, one dotted id in four and a `dependsOn` in ten; the bench
times `parse_inputs` on one set of valid values (best of `--repeat` calls) and prints µs per call and per
input, which stays flat when the cost is linear. Then it times rendering `{{ inputs.a }}-{{ inputs.b }}` with
plain and with SECRET (sealed) values. Pure CPU, no server."""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import Any

from conveyor.common.flow import Flow
from conveyor.common.input_secrets import seal
from conveyor.common.inputs import parse_inputs
from conveyor.common.loader import load_flow
from conveyor.common.render import render

KINDS: list[tuple[str, Any]] = [
    ("{type: STRING, validator: 'v\\d+'}", "v12"),
    ("{type: INT, min: 0, max: 1000}", "42"),
    ("{type: DATE, after: 2020-01-01}", "2024-05-01"),
    ("{type: DURATION, max: PT1H}", "PT5M"),
    ("{type: SELECT, values: [a, b, c]}", "b"),
    ("{type: ARRAY, itemType: INT}", "[1, 2, 3]"),
]


def flow_of(size: int) -> tuple[Flow, dict[str, Any]]:
    lines, given = [], {}
    for i in range(size):
        declaration, value = KINDS[i % len(KINDS)]
        name = f"g{i // 4}.x{i}" if i % 4 == 0 else f"x{i}"
        depends = f", dependsOn: {{inputs: [x{i - 1}]}}" if i % 10 == 9 else ""
        lines.append(f"  - {{id: '{name}', {declaration[1:-1]}{depends}}}")
        given[name] = value
    text = "id: b\nnamespace: bench\ninputs:\n" + "\n".join(lines)
    text += "\ntasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: m}]\n"
    return load_flow(text), given


def best(call: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` calls, in seconds."""
    fastest = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def _parsing(flow: Flow, given: dict[str, Any]) -> Callable[[], object]:
    return lambda: parse_inputs(flow, given)


def _rendering(template: str, context: dict[str, Any]) -> Callable[[], object]:
    return lambda: render(template, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, best of {args.repeat}")
    print("| inputs | parse_inputs µs | µs per input |\n|---:|---:|---:|")
    for size in [int(s) for s in args.sizes.split(",")]:
        flow, given = flow_of(size)
        seconds = best(_parsing(flow, given), args.repeat)
        print(f"| {size:,} | {seconds * 1e6:,.0f} | {seconds * 1e6 / size:.1f} |")
    template = "{{ inputs.a }}-{{ inputs.b }}"
    plain = {"inputs": {"a": "x" * 20, "b": "y" * 20}}
    sealed = {"inputs": {"a": seal("x" * 20), "b": seal("y" * 20)}}
    render(template, plain)
    rows = [("plain values", plain), ("SECRET values", sealed)]
    print("\n| render `{{ inputs.a }}-{{ inputs.b }}` | µs |\n|---|---:|")
    for label, context in rows:
        seconds = best(_rendering(template, context), args.repeat * 10)
        print(f"| {label} | {seconds * 1e6:.1f} |")


if __name__ == "__main__":
    main()
