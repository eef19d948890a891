"""`conveyor delete ID [--keep-logs] [--keep-metrics] [--keep-storage]`: delete an execution, as
`DELETE /api/v1/executions/{id}` does (`common.deletion` on Kafka and the storage, `indexer.purge` in
Elasticsearch). An unknown id is refused with exit code 2.

`conveyor delete --namespace N [--flow F] [--state S]… [--labels K:V]… [--parent ID] --yes`: every execution
the filters match, as `DELETE /api/v1/executions/by-query` does."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from conveyor.cli.output import err_console, print_json
from conveyor.common import deletion
from conveyor.common.control import ControlError
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.storage import default_storage
from conveyor.indexer import purge, queries
from conveyor.indexer.filters import ExecutionFilters, Paging, not_ended

EXIT_OK, EXIT_INVALID = 0, 2
PAGE = 100


def delete(
    kafka: KafkaSettings, es: ElasticsearchSettings, execution_id: str, *, keep: deletion.Keep, output: str
) -> int:
    producer = Producer(kafka)
    try:
        done = deletion.delete(kafka, producer, execution_id, keep=keep, storage=default_storage())
    except ControlError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_INVALID
    client = elasticsearch_client(es)
    try:
        documents = purge.delete_documents(
            client, es.index_prefix, [execution_id], logs=not keep.logs, metrics=not keep.metrics
        )
    finally:
        client.close()
    summary = {
        "executionId": execution_id,
        "namespace": done.execution.namespace,
        "flowId": done.execution.flow_id,
        "taskRuns": done.task_runs,
        "files": done.files,
        "documents": documents,
    }
    if output == "json":
        print_json(summary)
    else:
        err_console.print(
            f"execution [bold]{execution_id}[/bold] ({done.execution.namespace}.{done.execution.flow_id}) deleted: "
            f"{done.task_runs} task runs, {documents} documents, {done.files} files"
        )
    return EXIT_OK


def delete_by_query(
    kafka: KafkaSettings,
    es: ElasticsearchSettings,
    filters: ExecutionFilters,
    *,
    keep: deletion.Keep,
    include_running: bool,
    yes: bool,
    output: str,
) -> int:
    """Every execution the filters match, a page of `PAGE` at a time (oldest first), as
    `DELETE /api/v1/executions/by-query` does; refused (exit 2) when one has not ended (without
    `--include-running`), and, without `--yes`, only says how many match."""
    client = elasticsearch_client(es)
    try:
        running = not_ended(filters)
        if running is not None and not include_running:
            found = queries.search_executions(client, es.index_prefix, running, Paging(size=10))
            if found.total:
                ids = ", ".join(str(doc["id"]) for doc in found.results)
                err_console.print(
                    f"[red]error:[/red] {found.total} matching execution(s) have not ended ({ids}…): "
                    "--include-running deletes them too",
                    highlight=False,
                )
                return EXIT_INVALID
        matched = queries.search_executions(client, es.index_prefix, filters, Paging(size=1)).total
        if not yes:
            err_console.print(f"{matched} execution(s) match: add --yes to delete them", highlight=False)
            return EXIT_INVALID
        deleted = _delete_pages(kafka, client, es.index_prefix, filters, keep)
    finally:
        client.close()
    if output == "json":
        print_json({"count": deleted})
    else:
        err_console.print(f"{deleted} execution(s) deleted")
    return EXIT_OK


def _delete_pages(
    kafka: KafkaSettings, client: Elasticsearch, prefix: str, filters: ExecutionFilters, keep: deletion.Keep
) -> int:
    producer = Producer(kafka)
    deleted = 0
    seen: set[str] = set()
    while True:
        page = queries.search_executions(client, prefix, filters, Paging(size=PAGE, sort="state.startDate:asc"))
        ids = [str(doc["id"]) for doc in page.results if str(doc["id"]) not in seen]
        if not ids:
            return deleted
        seen.update(ids)
        for execution_id in ids:
            try:
                deletion.delete(kafka, producer, execution_id, keep=keep, storage=default_storage())
                deleted += 1
            except ControlError:  # gone from Kafka already (deleted meanwhile): its documents go below
                pass
        purge.delete_documents(client, prefix, ids, logs=not keep.logs, metrics=not keep.metrics)
