"""`conveyor logs EXECUTION_ID`: an execution's log lines, oldest first, from Elasticsearch.

Logs are indexed asynchronously. `--wait SECONDS` waits (at most that long) until the execution is
indexed as ended and its log lines have stopped arriving for `SETTLE` seconds, so the answer is complete
right after `conveyor run` returns.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from conveyor.cli.output import err_console, print_json
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.settings import ElasticsearchSettings
from conveyor.common.state import StateType
from conveyor.indexer import queries

# How long the log lines of an ended execution must stay the same before `--wait` trusts them.
SETTLE = 1.0
POLL = 0.25


def logs(
    es: ElasticsearchSettings,
    execution_id: str,
    *,
    task: str | None = None,
    level: str | None = None,
    output: str = "table",
    wait: float = 0.0,
) -> int:
    client = elasticsearch_client(es)

    def read() -> list[dict[str, Any]]:
        return queries.search_logs(client, es.index_prefix, execution_id, task, min_level=level)

    lines = read()
    deadline = time.monotonic() + wait
    stable_since: float | None = None
    while wait > 0 and time.monotonic() < deadline:
        if not _ended(client, es.index_prefix, execution_id):
            stable_since = None
        elif stable_since is not None and time.monotonic() - stable_since >= SETTLE:
            break
        time.sleep(POLL)
        again = read()
        if again != lines or stable_since is None:
            lines, stable_since = again, time.monotonic()
    if not lines and queries.get_execution(client, es.index_prefix, execution_id) is None:
        err_console.print(f"[red]no execution {execution_id} is indexed[/red]")
        if output == "json":
            print_json([])
        return 1
    if output == "json":
        print_json(lines)
    else:
        for line in lines:
            sys.stdout.write(format_line(line) + "\n")
    return 0


def _ended(client: Any, prefix: str, execution_id: str) -> bool:
    doc = queries.get_execution(client, prefix, execution_id)
    if doc is None:
        return False
    try:
        return StateType(doc["state"]["current"]).terminal
    except (KeyError, TypeError, ValueError):
        return False


def format_line(line: dict[str, Any]) -> str:
    """`2026-01-01T10:00:00.123Z INFO  task-id message` (the message as it was logged, never as markup)."""
    when = str(line.get("timestamp", ""))
    return f"{when} {line.get('level', ''):5} {line.get('taskId') or '-'} {line.get('message', '')}"
