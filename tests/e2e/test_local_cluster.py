"""`conveyor up --cluster` as a user runs it: three Kafka brokers and three Elasticsearch nodes of its own, the
services on them, a flow run to SUCCESS, `status` showing every node, `down` stopping every process.

One test, the least it takes (one worker, two partitions): six JVMs start on a 2-core box."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cli import ROOT
from tests.e2e.test_local_stack import _cli, _env, _stack_pids, _wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

NODES = {"kafka-1", "kafka-2", "kafka-3", "elasticsearch-1", "elasticsearch-2", "elasticsearch-3"}


def _indexed(env: dict[str, str], execution_id: str, timeout: float = 120) -> dict[str, Any]:
    """The execution as `conveyor executions` finds it in Elasticsearch, once indexed in its end state."""
    deadline = time.monotonic() + timeout
    while True:
        found = _cli(env, "executions", "--flow", "hello", "--output", "json")
        assert found.returncode == 0, found.stderr
        docs = [doc for doc in json.loads(found.stdout) if doc["id"] == execution_id]
        if docs and docs[0]["state"]["current"] == "SUCCESS":
            return dict(docs[0])
        assert time.monotonic() < deadline, f"{execution_id} not indexed as SUCCESS: {found.stdout}"
        time.sleep(1)


def _index_replicas(es_url: str, index_pattern: str) -> set[str]:
    with urllib.request.urlopen(f"{es_url}/{index_pattern}/_settings", timeout=30) as response:
        settings = json.loads(response.read())
    return {index["settings"]["index"]["number_of_replicas"] for index in settings.values()}


def test_up_cluster_runs_a_flow_on_three_brokers_and_three_nodes_and_down_stops_every_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    up = _cli(env, "up", "--detach", "--cluster", "--workers", "1", timeout=600)
    assert up.returncode == 0, up.stderr + ((home / "up.log").read_text() if (home / "up.log").exists() else "")
    state = json.loads((home / "stack.json").read_text())
    try:
        assert set(state["servers"]) == NODES
        assert len(state["kafkaBootstrap"].split(",")) == 3 and len(state["elasticsearchUrl"].split(",")) == 3

        status = _cli(env, "status", "--output", "json")
        report = json.loads(status.stdout)
        assert status.returncode == 0, status.stdout + status.stderr
        assert report["kafka"]["reachable"] and report["elasticsearch"]["reachable"]
        assert report["kafka"]["bootstrap"] == state["kafkaBootstrap"]
        assert set(report["servers"]) == NODES and all(s["alive"] for s in report["servers"].values())
        assert {"executor", "indexer", "server", "worker-1"} <= set(report["services"])
        assert all(s["alive"] for s in report["services"].values()) and report["server"]["reachable"]

        topics = _cli(env, "topics", "describe", "--output", "json")
        assert topics.returncode == 0, topics.stdout + topics.stderr
        assert {row["replicationFactor"] for row in json.loads(topics.stdout)} == {3}

        run = _cli(env, "run", str(ROOT / "examples" / "hello.yaml"), "--output", "json")
        assert run.returncode == 0, run.stderr
        execution = json.loads(run.stdout)
        assert execution["state"]["current"] == "SUCCESS"
        _indexed(env, execution["id"])
        # every document on two of the three nodes
        assert _index_replicas(state["elasticsearchUrl"].split(",")[0], "conveyor-executions-*") == {"1"}
    finally:
        down = _cli(env, "down")
    assert down.returncode == 0
    assert _wait_gone([*_stack_pids(state), *state["servers"].values()], timeout=120) == []
    assert not (home / "stack.json").exists()
