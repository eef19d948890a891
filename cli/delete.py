"""`conveyor delete ID [--keep-logs] [--keep-metrics] [--keep-storage]`: delete an execution, as
`DELETE /api/v1/executions/{id}` does (`common.deletion` on Kafka and the storage, `indexer.purge` in
Elasticsearch). An unknown id is refused with exit code 2."""

from __future__ import annotations

from conveyor.cli.output import err_console, print_json
from conveyor.common import deletion
from conveyor.common.control import ControlError
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.storage import default_storage
from conveyor.indexer import purge

EXIT_OK, EXIT_INVALID = 0, 2


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
