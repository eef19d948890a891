"""`conveyor taskruns` and `conveyor executions`: the Task Runs view from the terminal (Elasticsearch)."""

from __future__ import annotations

import time
from typing import Any

from conveyor.cli.output import console, duration_ms, err_console, print_json, short, state_text, table
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.settings import ElasticsearchSettings
from conveyor.indexer import queries
from conveyor.indexer.filters import DEFAULT_SORT, ExecutionFilters, Paging, TaskRunFilters


def taskruns(
    es: ElasticsearchSettings,
    *,
    namespace: str | None,
    flow: str | None,
    states: list[str] | None,
    execution: str | None,
    task: str | None,
    size: int,
    output: str,
    follow: bool = False,
    q: str | None = None,
    start: str | None = None,
    end: str | None = None,
    sort: str = DEFAULT_SORT,
    after: str | None = None,
) -> int:
    client = elasticsearch_client(es)
    filters = TaskRunFilters(
        namespace=namespace,
        flow_id=flow,
        state=states or None,
        execution_id=execution,
        task_id=task,
        q=q,
        start=start,
        end=end,
    )
    paging = Paging(size=size, sort=sort, search_after=after)
    while True:
        page = queries.search_taskruns(client, es.index_prefix, filters, paging)
        if page.next and not follow:
            err_console.print(f"more task runs: add --after {page.next}", highlight=False)
        if output == "json":
            print_json(page.results)
        else:
            if follow:
                console.clear()
            rows = [
                [
                    r.get("id", ""),
                    r.get("executionId", ""),
                    r.get("namespace", ""),
                    r.get("flowId", ""),
                    r.get("taskId", ""),
                    short(r.get("value"), 20),
                    str(r.get("attemptsCount", 0)),
                    state_text(_state(r)),
                    _date(r, "startDate"),
                    duration_ms(r.get("state") or {}),
                ]
                for r in page.results
            ]
            console.print(
                table(
                    f"Task runs ({len(page.results)} of {page.total})",
                    [
                        "id",
                        "execution",
                        "namespace",
                        "flow",
                        "task",
                        "value",
                        "attempts",
                        "state",
                        "start",
                        "duration",
                    ],
                    rows,
                )
            )
        if not follow:
            return 0
        time.sleep(2)


def executions(
    es: ElasticsearchSettings,
    *,
    namespace: str | None,
    flow: str | None,
    states: list[str] | None,
    size: int,
    output: str,
) -> int:
    client = elasticsearch_client(es)
    filters = ExecutionFilters(namespace=namespace, flow_id=flow, state=states or None)
    page = queries.search_executions(client, es.index_prefix, filters, Paging(size=size))
    if output == "json":
        print_json(page.results)
        return 0
    rows = [
        [
            r.get("id", ""),
            r.get("namespace", ""),
            r.get("flowId", ""),
            state_text(_state(r)),
            str(r.get("taskRunCount", "")),
            _date(r, "startDate"),
            duration_ms(r.get("state") or {}),
        ]
        for r in page.results
    ]
    console.print(
        table(
            f"Executions ({len(page.results)} of {page.total})",
            ["id", "namespace", "flow", "state", "task runs", "start", "duration"],
            rows,
        )
    )
    return 0


def _state(doc: dict[str, Any]) -> str:
    return str((doc.get("state") or {}).get("current", ""))


def _date(doc: dict[str, Any], name: str) -> str:
    value = (doc.get("state") or {}).get(name) or ""
    return str(value)[:23].replace("T", " ")
