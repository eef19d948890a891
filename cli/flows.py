"""`conveyor flows deploy|list|get|delete`: deployed flows on the `flows` topic, through the same catalog as
the API server (`api/catalog.py`), so that a flow deployed here is started by any server.

`deploy FILE|DIR…` reads every `*.yaml`/`*.yml` of a folder (not its subfolders), validates the whole batch
first and deploys nothing if one flow is invalid (each problem printed `file:line:col: field: message`,
exit 2), then deploys each flow: deploying the same source again changes nothing (idempotent).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conveyor.api.catalog import UNCHANGED, FlowCatalog
from conveyor.cli.output import console, print_json, table
from conveyor.common.errors import FlowError, Problem
from conveyor.common.flow import Flow
from conveyor.common.kafka.producer import Producer
from conveyor.common.loader import decode_flow, load_flow
from conveyor.common.settings import KafkaSettings

EXIT_OK, EXIT_INVALID = 0, 2
FLOW_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FlowFile:
    path: str
    source: str
    flow: Flow


def flow_paths(targets: list[str]) -> tuple[list[Path], list[str]]:
    """The flow files the arguments name (a folder's YAML files, sorted) and a problem for each missing one."""
    paths: list[Path] = []
    problems: list[str] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in FLOW_SUFFIXES)
            if not found:
                problems.append(Problem("", "no *.yaml or *.yml flow file in this folder").format(target))
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            problems.append(Problem("", "no such file or folder").format(target))
    return paths, problems


def load_batch(targets: list[str]) -> tuple[list[FlowFile], list[str]]:
    """Every flow of the batch, and every problem of it (files, then flows, then a flow given twice)."""
    paths, problems = flow_paths(targets)
    loaded: list[FlowFile] = []
    for path in paths:
        try:
            source = decode_flow(_read(path), str(path))
            loaded.append(FlowFile(str(path), source, load_flow(source, str(path))))
        except FlowError as exc:
            problems.extend(p.format(exc.source) for p in exc.problems)
    seen: dict[str, str] = {}
    for item in loaded:
        key = f"{item.flow.namespace}/{item.flow.id}"
        if key in seen:
            problems.append(Problem("id", f"flow {key} is also in {seen[key]}", 1, 1).format(item.path))
        seen.setdefault(key, item.path)
    return loaded, problems


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FlowError(str(path), [Problem("", f"cannot read the file: {exc.strerror}")]) from exc


def refuse(problems: list[str]) -> int:
    """Print every problem of a refused batch; exit 2."""
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    sys.stderr.write(f"error: nothing deployed: {len(problems)} problem(s) in the batch\n")
    return EXIT_INVALID


def deploy(kafka: KafkaSettings, batch: list[FlowFile], output: str) -> int:
    """Deploy a validated batch (`load_batch`), printing each flow's revision and whether it changed."""
    rows = []
    with _catalog(kafka) as catalog:
        done = catalog.deploy_batch([(item.flow, item.source) for item in batch])
    for item, deployment in zip(batch, done, strict=True):
        d = deployment.deployed
        rows.append(
            {
                "namespace": d.namespace,
                "id": d.id,
                "revision": d.revision,
                "result": deployment.outcome,
                "file": item.path,
            }
        )
    if output == "json":
        print_json(rows)
    else:
        cells = [
            [str(r["namespace"]), str(r["id"]), str(r["revision"]), _styled(str(r["result"])), str(r["file"])]
            for r in rows
        ]
        console.print(table(f"Deployed ({len(rows)})", ["namespace", "id", "revision", "result", "file"], cells))
    return EXIT_OK


def _styled(outcome: str) -> str:
    return outcome if outcome == UNCHANGED else f"[green]{outcome}[/green]"


def list_flows(kafka: KafkaSettings, namespace: str | None, output: str) -> int:
    with _catalog(kafka) as catalog:
        flows = catalog.list(namespace)
    rows = [
        {"namespace": d.namespace, "id": d.id, "revision": d.revision, "deployedAt": d.deployed_at.isoformat()}
        for d in flows
    ]
    if output == "json":
        print_json(rows)
    else:
        cells = [[str(r["namespace"]), str(r["id"]), str(r["revision"]), str(r["deployedAt"])] for r in rows]
        console.print(table(f"Flows ({len(rows)})", ["namespace", "id", "revision", "deployed at"], cells))
    return EXIT_OK


def get_flow(kafka: KafkaSettings, namespace: str, flow_id: str, revision: int | None) -> int:
    with _catalog(kafka) as catalog:
        found = catalog.get(namespace, flow_id, revision)
    if found is None:
        which = f"revision {revision} of flow" if revision is not None else "flow"
        sys.stderr.write(f"error: {which} {namespace}.{flow_id} is not deployed\n")
        return EXIT_INVALID
    source = found[0].source
    sys.stdout.write(source if source.endswith("\n") else source + "\n")
    return EXIT_OK


def delete_flow(kafka: KafkaSettings, namespace: str, flow_id: str) -> int:
    with _catalog(kafka) as catalog:
        deleted = catalog.delete(namespace, flow_id)
    if deleted is None:
        sys.stderr.write(f"error: flow {namespace}.{flow_id} is not deployed\n")
        return EXIT_INVALID
    console.print(f"{namespace}/{flow_id}: deleted (revision {deleted.revision}); its triggers stop")
    return EXIT_OK


@contextmanager
def _catalog(kafka: KafkaSettings) -> Iterator[FlowCatalog]:
    producer = Producer(kafka)
    catalog = FlowCatalog(kafka, producer)
    try:
        yield catalog
    finally:
        catalog.close()
        producer.flush(10.0)
