"""Nothing the project starts outlives a parent that was SIGKILLed: the services of the e2e `Stack` and of
`bench/throughput.py`'s `Bench`, and the Kafka and Elasticsearch servers of `common/servers` (Elasticsearch's
launcher and the server JVM it starts). Each parent is a process of its own, killed as a crash would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conveyor.common.procfs import alive
from tests.cli import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"),
]

SERVICES_PARENT = """
import json, os, sys, time, uuid
from pathlib import Path
sys.path.insert(0, str(Path.cwd() / "bench"))
from throughput import Bench
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.e2e.conftest import Stack
bootstrap, es_url, logs = sys.argv[1], sys.argv[2], Path(sys.argv[3])
prefix = f"pdeath-{uuid.uuid4().hex[:6]}"
kafka = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"{prefix}.", partitions=1)
es = ElasticsearchSettings(url=es_url, index_prefix=prefix)
ensure_topics(kafka)
env = {**os.environ, "CONVEYOR_KAFKA_BOOTSTRAP": bootstrap, "CONVEYOR_KAFKA_TOPIC_PREFIX": f"{prefix}.",
       "CONVEYOR_KAFKA_PARTITIONS": "1", "CONVEYOR_ELASTICSEARCH_URL": es_url, "CONVEYOR_LOG_LEVEL": "INFO"}
stack = Stack(env, kafka, es, logs)
stack.start("stack-worker", "worker", {"CONVEYOR_WORKER_WORKER_ID": "stack-worker"})
bench = Bench(kafka, es, logs, 1)
bench.start("bench-worker", "worker", {"CONVEYOR_WORKER_WORKER_ID": "bench-worker", "CONVEYOR_LOG_LEVEL": "INFO"})
print(json.dumps({"stack-worker": stack.procs["stack-worker"].pid, "bench-worker": bench.procs["bench-worker"].pid}),
      flush=True)
time.sleep(3600)
"""

SERVERS_PARENT = """
import json, sys, time
from pathlib import Path
from conveyor.common.servers import start_local_servers
kafka, es = start_local_servers(Path(sys.argv[1]), timeout=400)
print(json.dumps({"kafka": kafka.pid, "elasticsearch": es.pid}), flush=True)
time.sleep(3600)
"""


@contextmanager
def _parent(code: str, log: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """The parent process running `code`, its errors in `log`; killed at the end if still alive."""
    with (
        log.open("w") as errors,
        subprocess.Popen(
            [sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True
        ) as parent,
    ):
        try:
            yield parent
        finally:
            if parent.poll() is None:
                parent.kill()
            parent.wait()


def _pids(parent: subprocess.Popen[str]) -> dict[str, int]:
    """The children's pids the parent prints once it has started them (it fails the test if it exits)."""
    assert parent.stdout is not None
    line = parent.stdout.readline()
    if not line:
        parent.wait()
        pytest.fail(f"the parent exited ({parent.returncode}) before starting its children (its log says why)")
    return {name: int(pid) for name, pid in json.loads(line).items()}


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _kill_left(pids: Iterable[int]) -> None:
    """Never leave a process behind, even when the test fails."""
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def _kill(parent: subprocess.Popen[str]) -> None:
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert parent.returncode == -signal.SIGKILL


def test_services_of_the_stack_and_the_bench_end_when_their_parent_is_killed(
    kafka_bootstrap: str, elasticsearch_url: str, tmp_path: Path
) -> None:
    pids: dict[str, int] = {}
    try:
        with _parent(SERVICES_PARENT, tmp_path / "parent.log", kafka_bootstrap, elasticsearch_url, str(tmp_path)) as p:
            pids = _pids(p)
            logs = {name: tmp_path / f"{name}.log" for name in pids}

            def working() -> bool:
                return all(f"worker {n} started" in _text(path) for n, path in logs.items())

            assert _until(working, 120), "the workers did not start:\n" + "\n".join(map(_text, logs.values()))
            assert all(alive(pid) for pid in pids.values())

            _kill(p)

            assert _until(lambda: not any(alive(pid) for pid in pids.values()), 120), f"still running: {pids}"
            for name, path in logs.items():  # each one was told to stop, and stopped cleanly (no crash)
                assert "SIGHUP received (the parent process ended): stopping" in _text(path), _text(path)
                assert f"worker {name} stopped" in _text(path), _text(path)
    finally:
        _kill_left(pids.values())


@pytest.mark.timeout(900)
def test_kafka_and_elasticsearch_end_when_the_process_that_started_them_is_killed(tmp_path: Path) -> None:
    groups: dict[str, list[int]] = {}
    try:
        with _parent(SERVERS_PARENT, tmp_path / "parent.log", str(tmp_path)) as parent:
            pids = _pids(parent)
            groups = {name: _group(pid) for name, pid in pids.items()}  # each server leads a group of its own
            assert pids["kafka"] in groups["kafka"]
            # Elasticsearch's launcher runs the server as a JVM of its own: both must go
            assert len(groups["elasticsearch"]) >= 2, groups

            _kill(parent)

            assert _until(lambda: not any(_group(pid) for pid in pids.values()), 300), {
                name: _group(pid) for name, pid in pids.items()
            }
    finally:
        _kill_left(pid for members in groups.values() for pid in members)
