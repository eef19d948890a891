"""Flows the pure-core tests share, and `flow()`, which writes the lines every test flow starts with so that a
test shows only the tasks it is about."""

from __future__ import annotations


def flow(body: str) -> str:
    """The YAML of flow `t.test`; `body` is what follows `tasks:`: the items of the list, then any other
    top-level keys (`errors:`, `outputs:`, ...)."""
    tasks = body.strip("\n")
    return f"id: test\nnamespace: t\ntasks:\n{tasks}\n"


def failing(retry: str) -> str:
    """One task, `flaky`, that fails every attempt, retried by `retry` (a YAML mapping)."""
    return flow(f"  - {{id: flaky, type: io.kestra.plugin.core.execution.Fail, retry: {retry}}}")


# A long first task (the sim runs it at once; a test reports its attempt by hand to keep it running).
SLEEPY = flow("""
  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT1M}
  - {id: after, type: io.kestra.plugin.core.debug.Return, format: done}
""")
