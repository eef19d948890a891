"""What one attempt of each catalogue task costs on a worker, runner only (no Kafka): OutputValues, an HTTP
Request to a loopback server (GET, and POST with a 1 MiB response), a python Script, a shell Script and a
shell Commands.

    .venv/bin/python bench/tasks.py [--times 20]

Prints one table; every figure is the median of its repetitions, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conveyor.common.state import StateType
from conveyor.common.tasks.registry import task_classes
from conveyor.worker.runners import runner_for
from conveyor.worker.testing import run_context
from tests.httpserver import loopback_server


def attempt_ms(spec: dict[str, Any], times: int) -> float:
    task = task_classes()[spec["type"]].model_validate(spec)
    runner = runner_for(task)
    samples = []
    for _ in range(times):
        ctx, _ = run_context(spec)
        start = time.perf_counter()
        outcome = runner.run(task, ctx)
        samples.append((time.perf_counter() - start) * 1000)
        assert outcome.state is StateType.SUCCESS, outcome
    return statistics.median(samples)


def cases(url: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "OutputValues (3 values)",
            {
                "type": "io.kestra.plugin.core.output.OutputValues",
                "values": {"a": "{{ 1 + 1 }}", "b": "x", "c": [1, 2]},
            },
        ),
        ("http.Request GET (small JSON)", {"type": "io.kestra.plugin.core.http.Request", "uri": url + "/echo"}),
        ("http.Request GET (1 MiB body)", {"type": "io.kestra.plugin.core.http.Request", "uri": url + "/big/1048576"}),
        (
            "python.Script (print + outputs)",
            {"type": "io.kestra.plugin.scripts.python.Script", "script": 'print(\'::{"outputs": {"a": 1}}::\')'},
        ),
        ("shell.Script (echo)", {"type": "io.kestra.plugin.scripts.shell.Script", "script": "echo hi"}),
        ("shell.Commands (echo)", {"type": "io.kestra.plugin.scripts.shell.Commands", "commands": ["echo hi"]}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=20)
    args = parser.parse_args()
    with loopback_server() as server:
        rows = [(name, attempt_ms({"id": "t", **spec}, args.times)) for name, spec in cases(server.url)]
    print(f"| task (median of {args.times}) | ms per attempt |")
    print("|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()
