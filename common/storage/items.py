"""Where a ForEachItem task run's files live, shared by the executor (which starts the children and records
each child's outputs) and the worker (which cuts the `items` file and merges the outputs: `worker.items`).

Batch `i` (1-based) is `batches/{i}{ext}` under the task run's folder, `ext` the source's extension (`.tmp`
without one), so a batch's URI is a function of its number and nothing lists them. Each child's outputs
become `outputs/{i}.json` there when it ends (one small put); the merged file is `outputs.jsonl`.
"""

from __future__ import annotations

import io

import orjson

from conveyor.common.storage import ExecutionScope, default_storage, file_name


def extension(uri: str) -> str:
    name = file_name(uri)
    return name[name.rindex(".") :] if "." in name else ".tmp"


def batch_uri(scope: ExecutionScope, task_id: str, task_run_id: str, ext: str, iteration: int | str) -> str:
    return scope.task_file(task_id, task_run_id, f"batches/{iteration}{ext}")


def outputs_uri(scope: ExecutionScope, task_id: str, task_run_id: str, iteration: int) -> str:
    return scope.task_file(task_id, task_run_id, f"outputs/{iteration}.json")


def outputs_folder(scope: ExecutionScope, task_id: str, task_run_id: str) -> str:
    return scope.task_file(task_id, task_run_id, "outputs") + "/"


def merged_uri(scope: ExecutionScope, task_id: str, task_run_id: str) -> str:
    return scope.task_file(task_id, task_run_id, "outputs.jsonl")


def save_outputs(
    scope: ExecutionScope, task_id: str, task_run_id: str, iteration: int, outputs: dict[str, object]
) -> None:
    uri = outputs_uri(scope, task_id, task_run_id, iteration)
    default_storage().put(uri, io.BytesIO(orjson.dumps(outputs) + b"\n"))
