"""`conveyor taskruns` and `conveyor executions`: the Task Runs view from the terminal (Elasticsearch)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from conveyor.cli.output import console, err_console, indexed_duration, print_json, short, state_text, table
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.settings import ElasticsearchSettings
from conveyor.indexer import queries
from conveyor.indexer.filters import DEFAULT_SORT, ExecutionFilters, Paging, TaskRunFilters, When


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
    start: When | None = None,
    end: When | None = None,
    sort: str = DEFAULT_SORT,
    after: str | None = None,
    trigger: str | None = None,
    parent: str | None = None,
    labels: dict[str, str] | None = None,
) -> int:
    client = elasticsearch_client(es)
    filters = TaskRunFilters(
        labels=labels,
        trigger_execution_id=parent,
        namespace=namespace,
        flow_id=flow,
        state=states or None,
        execution_id=execution,
        task_id=task,
        trigger_id=trigger,
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
            _print_table("Task runs", TASKRUN_COLUMNS, page)
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
    trigger: str | None = None,
    parent: str | None = None,
    labels: dict[str, str] | None = None,
) -> int:
    client = elasticsearch_client(es)
    filters = ExecutionFilters(
        namespace=namespace,
        flow_id=flow,
        state=states or None,
        trigger_id=trigger,
        trigger_execution_id=parent,
        labels=labels,
    )
    page = queries.search_executions(client, es.index_prefix, filters, Paging(size=size))
    if output == "json":
        print_json(page.results)
        return 0
    _print_table("Executions", EXECUTION_COLUMNS, page)
    return 0


Column = tuple[str, Callable[[dict[str, Any]], str]]


def _field(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda doc: str(doc.get(name, ""))


def _state(doc: dict[str, Any]) -> str:
    return str((doc.get("state") or {}).get("current", ""))


def _date(doc: dict[str, Any], name: str) -> str:
    value = (doc.get("state") or {}).get(name) or ""
    return str(value)[:23].replace("T", " ")


def _duration(doc: dict[str, Any]) -> str:
    return indexed_duration(doc.get("state") or {})


TASKRUN_COLUMNS: list[Column] = [
    ("id", _field("id")),
    ("execution", _field("executionId")),
    ("namespace", _field("namespace")),
    ("flow", _field("flowId")),
    ("task", _field("taskId")),
    ("value", lambda doc: short(doc.get("value"), 20)),
    ("attempts", lambda doc: str(doc.get("attemptsCount", 0))),
    ("state", lambda doc: state_text(_state(doc))),
    ("start", lambda doc: _date(doc, "startDate")),
    ("duration", _duration),
]
EXECUTION_COLUMNS: list[Column] = [
    ("id", _field("id")),
    ("namespace", _field("namespace")),
    ("flow", _field("flowId")),
    ("state", lambda doc: state_text(_state(doc))),
    ("task runs", _field("taskRunCount")),
    ("trigger", lambda doc: str((doc.get("trigger") or {}).get("id", ""))),
    ("start", lambda doc: _date(doc, "startDate")),
    ("duration", _duration),
]


def _print_table(title: str, columns: list[Column], page: queries.Page) -> None:
    rows = [[cell(doc) for _, cell in columns] for doc in page.results]
    console.print(table(f"{title} ({len(page.results)} of {page.total})", [name for name, _ in columns], rows))
