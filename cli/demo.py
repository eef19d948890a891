"""`conveyor demo` (README's first command): the local stack, every flow of examples/, their task runs."""

from __future__ import annotations

import time
from pathlib import Path

from conveyor.cli import stack
from conveyor.cli.flags import GlobalFlags
from conveyor.cli.output import console, err_console
from conveyor.cli.query import taskruns
from conveyor.cli.run import execution_table, submit_and_wait
from conveyor.cli.statefile import read_state
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.loader import load_flow_file
from conveyor.common.model import Execution
from conveyor.common.settings import ElasticsearchSettings, local_stack
from conveyor.indexer import queries

# The input through which an example flow gets the local server's URL.
SERVER_URL_INPUT = "conveyorUrl"
# The folder of examples/ whose files are the examples namespace's files, and that namespace.
NAMESPACE_FILES = "nsfiles"
EXAMPLES_NAMESPACE = "conveyor.examples"


def demo(examples: str, keep: bool, flags: GlobalFlags) -> int:
    paths = sorted(p for p in Path(examples).glob("*.y*ml"))
    if not paths:
        err_console.print(f"no flow files in {examples}/")
        return 2
    started = read_state() is None
    if started:
        code = stack.up(detach=True, workers=2, flags=flags)
        if code:
            return code
    local_stack.cache_clear()
    try:
        kafka, es = flags.kafka(), flags.elasticsearch()
        server_url = (read_state() or {}).get("serverUrl")
        finished: list[Execution] = []
        _upload_namespace_files(Path(examples))
        for path in paths:
            console.rule(f"[bold]{path}")
            final = submit_and_wait(str(path), demo_inputs(path, server_url), kafka, timeout=300)
            if final is None:
                return 1
            console.print(execution_table(final))
            finished.append(final)
        _wait_indexed(es, finished)
        console.rule("[bold]the Task Runs view (Elasticsearch): conveyor taskruns --namespace conveyor.examples")
        taskruns(
            es,
            namespace="conveyor.examples",
            flow=None,
            states=None,
            execution=None,
            task=None,
            size=100,
            output="table",
        )
        ok = all(e.state.current.value in ("SUCCESS", "WARNING") for e in finished)
        console.print(f"{len(finished)} executions, " + ("all succeeded" if ok else "[red]some failed[/red]"))
        return 0 if ok else 1
    finally:
        if started and not keep:
            stack.down()
        elif started:
            err_console.print("the local stack is still up: `conveyor down` stops it")


def _upload_namespace_files(examples: Path) -> None:
    """`examples/nsfiles/` becomes the namespace files of `conveyor.examples` (the namespace-files example)."""
    folder = examples / NAMESPACE_FILES
    if folder.is_dir():
        from conveyor.cli.nsfiles import upload

        upload(EXAMPLES_NAMESPACE, folder, None)


def demo_inputs(path: Path, server_url: str | None) -> list[str]:
    """The local server's URL as the input `conveyorUrl` of the flows that declare it (the HTTP example)."""
    if not server_url:
        return []
    declared = {i.id for i in load_flow_file(path).inputs}
    return [f"{SERVER_URL_INPUT}={server_url}"] if SERVER_URL_INPUT in declared else []


def _wait_indexed(es: ElasticsearchSettings, executions: list[Execution], timeout: float = 60.0) -> None:
    client = elasticsearch_client(es)
    expected = sum(len(e.task_run_list) for e in executions)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sum(
            queries.search_taskruns(client, es.index_prefix, execution_id=e.id, size=1).total for e in executions
        )
        if found >= expected:
            return
        time.sleep(0.5)
    err_console.print(f"[yellow]only part of the {expected} task runs were indexed after {timeout:.0f}s[/yellow]")
