"""`conveyor unqueue ID [ID ...]`: start QUEUED executions at once, past their flow's concurrency limit, as
`POST /api/v1/executions/unqueue/by-ids` does (`common.unqueue`: all or nothing; an unknown id or one not
QUEUED is named and nothing is sent, exit 2).

`conveyor unqueue --namespace N [--flow F] [--labels K:V]… [--parent ID] --yes`: every QUEUED execution the
filters match (read from Elasticsearch, a page of 100 at a time, oldest first), as
`POST /api/v1/executions/unqueue/by-query` does; one that has left QUEUED since the index saw it is skipped.
Without `--yes` it only says how many match (exit 2)."""

from __future__ import annotations

from dataclasses import replace

from conveyor.cli.output import err_console, print_json
from conveyor.common import unqueue
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import StateType
from conveyor.indexer import queries
from conveyor.indexer.filters import ExecutionFilters, Paging

EXIT_OK, EXIT_INVALID = 0, 2
PAGE = 100


def unqueue_ids(kafka: KafkaSettings, ids: list[str], *, output: str) -> int:
    found, invalid = unqueue.check(kafka, ids)
    if invalid:
        for one in invalid:
            err_console.print(f"[red]error:[/red] {one.execution_id}: {one.message}", highlight=False)
        err_console.print("nothing unqueued", highlight=False)
        return EXIT_INVALID
    count = unqueue.send(kafka, Producer(kafka), found)
    return _report(output, {"count": count}, f"{count} execution(s) unqueued")


def unqueue_by_query(
    kafka: KafkaSettings, es: ElasticsearchSettings, filters: ExecutionFilters, *, yes: bool, output: str
) -> int:
    filters = replace(filters, state=[StateType.QUEUED.value])
    client = elasticsearch_client(es)
    try:
        if not yes:
            matched = queries.search_executions(client, es.index_prefix, filters, Paging(size=1)).total
            err_console.print(f"{matched} QUEUED execution(s) match: add --yes to unqueue them", highlight=False)
            return EXIT_INVALID
        producer = Producer(kafka)
        count = skipped = 0
        paging = Paging(size=PAGE, sort="state.startDate:asc")
        while True:  # a cursor through the matches: the index shows those unqueued QUEUED for a while yet
            page = queries.search_executions(client, es.index_prefix, filters, paging)
            ids = [str(doc["id"]) for doc in page.results]
            if ids:
                found, invalid = unqueue.check(kafka, ids)
                count += unqueue.send(kafka, producer, found)
                skipped += len(invalid)
            if page.next is None or not ids:
                break
            paging = replace(paging, search_after=page.next)
    finally:
        client.close()
    text = f"{count} execution(s) unqueued" + (f", {skipped} no longer QUEUED skipped" if skipped else "")
    return _report(output, {"count": count, "skipped": skipped}, text)


def _report(output: str, summary: dict[str, int], text: str) -> int:
    if output == "json":
        print_json(summary)
    else:
        err_console.print(text, highlight=False)
    return EXIT_OK
