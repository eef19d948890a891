"""End-to-end: the real `conveyor` CLI and services as processes, on the real servers.

`e2e_stack` starts an executor, workers and an indexer with a fresh topic prefix and index prefix for
the test module; `cli(...)` runs the `conveyor` command against them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient

from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.servers.process import die_with_parent
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.shutdown import PARENT_DEATH_SIGNAL
from tests.cli import ROOT, run_cli


@dataclass
class Stack:
    env: dict[str, str]
    kafka: KafkaSettings
    es: ElasticsearchSettings
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "conveyor.cli.main", command],
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                preexec_fn=die_with_parent(PARENT_DEATH_SIGNAL),  # a killed test process leaves no service behind
            )
        self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 30.0) -> None:
        proc = self.procs.pop(name)
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self, name: str) -> None:
        """SIGKILL: the process dies at once, as on a crash (no drain, no clean leave)."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args, timeout=timeout)

    def run_json(self, flow: str | Path, *args: str) -> dict[str, Any]:
        done = self.cli("run", str(flow), "--output", "json", *args)
        assert done.returncode in (0, 1), f"conveyor run failed ({done.returncode}):\n{done.stderr}\n{self.tail()}"
        return dict(json.loads(done.stdout))

    def poll(self, check: Callable[[], Any], timeout: float = 60.0, every: float = 0.5) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result or time.monotonic() > deadline:
                return result
            time.sleep(every)

    def wait_for_workers(self, count: int, timeout: float = 60.0) -> None:
        """Until the worker group is stable with `count` members sharing every worker-jobs partition, so no
        rebalance (and no job run twice by at-least-once delivery) happens while a test runs."""
        admin = AdminClient(self.kafka.client_config())
        group = f"{self.kafka.topic_prefix}worker"

        def stable() -> bool:
            try:
                (description,) = [
                    f.result() for f in admin.describe_consumer_groups([group], request_timeout=10).values()
                ]
            except KafkaException:  # the group coordinator of a young broker can time out: ask again
                return False
            assigned = sum(len(m.assignment.topic_partitions) for m in description.members)
            return (
                description.state == ConsumerGroupState.STABLE
                and len(description.members) == count
                and assigned == self.kafka.partitions
            )

        assert self.poll(stable, timeout), f"the worker group is not stable with {count} members\n{self.tail()}"

    def tail(self, lines: int = 30) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


@pytest.fixture(scope="module")
def e2e_stack(
    kafka_bootstrap: str,
    elasticsearch_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Stack]:
    name = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")[:20]
    prefix = f"e2e-{name}-{uuid.uuid4().hex[:6]}"
    logs = tmp_path_factory.mktemp(f"{name}-logs")
    env = {
        **os.environ,
        "CONVEYOR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CONVEYOR_KAFKA_TOPIC_PREFIX": f"{prefix}.",
        "CONVEYOR_KAFKA_PARTITIONS": "3",
        "CONVEYOR_ELASTICSEARCH_URL": elasticsearch_url,
        "CONVEYOR_ELASTICSEARCH_INDEX_PREFIX": prefix,
        "CONVEYOR_HOME": str(logs / "home"),
        "CONVEYOR_INDEXER_FLUSH_INTERVAL": "0.2",
        "COLUMNS": "200",
        # A module may set ENV: more settings for every process (e.g. CONVEYOR_EXECUTOR_WORKER_TIMEOUT).
        **getattr(request.module, "ENV", {}),
    }
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=3)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    stack = Stack(env, kafka, es, logs)
    stack.start("executor", "executor")
    for i in range(1, getattr(request.module, "EXECUTORS", 1)):  # a module may set EXECUTORS (default 1)
        stack.start(f"executor-{i + 1}", "executor")
    stack.start("indexer", "indexer")
    # A module may set WORKERS (how many worker processes) and WORKER_ENV (e.g. their concurrency).
    worker_env = getattr(request.module, "WORKER_ENV", {})
    for i in range(getattr(request.module, "WORKERS", 1)):
        stack.start(f"worker-{i + 1}", "worker", {**worker_env, "CONVEYOR_WORKER_WORKER_ID": f"worker-{i + 1}"})
    yield stack
    for proc_name in list(stack.procs):
        stack.stop(proc_name)
    if request.session.testsfailed:
        sys.stderr.write(stack.tail(60) + "\n")
