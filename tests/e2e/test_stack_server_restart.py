"""`conveyor up` supervises its own Kafka and Elasticsearch: SIGKILLed during a stream of executions, each is
started again on its ports and data, the services carry on, and every execution ends as expected with
Elasticsearch equal to Kafka."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.cli.probes import elasticsearch_error, kafka_error
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.e2e.conftest import Stack
from tests.e2e.test_faults import Snapshots, check_executions, check_index_matches_kafka, submit, wait_for
from tests.e2e.test_local_stack import _alive, _cli, _env, _stack_pids, _wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

WAVE = 30


def _state(home: Path) -> dict[str, Any]:
    return dict(json.loads((home / "stack.json").read_text()))


def _kill_and_wait_restarted(home: Path, name: str, answers: Callable[[], bool]) -> None:
    """SIGKILL the server's whole process group (a crash), then wait until `up` has started it again and it
    answers (a start takes a minute or more on a loaded 2-core box)."""
    old = _state(home)["servers"][name]
    os.killpg(old, signal.SIGKILL)
    wait_for(lambda: not _alive(old), 30, f"{name} to die")
    wait_for(lambda: _state(home)["servers"][name] != old and _alive(_state(home)["servers"][name]), 60,
             f"{name} started again")  # fmt: skip
    wait_for(answers, 300, f"{name} answering again")


def test_up_restarts_its_kafka_and_elasticsearch_and_every_execution_ends(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    up = _cli(env, "up", "--detach", "--workers", "2")
    assert up.returncode == 0, up.stderr
    state = _state(home)
    assert set(state["servers"]) == {"kafka", "elasticsearch"}
    kafka = KafkaSettings(bootstrap=state["kafkaBootstrap"], topic_prefix="conveyor.", partitions=2)
    es = ElasticsearchSettings(url=state["elasticsearchUrl"], index_prefix="conveyor")
    stack = Stack(env, kafka, es, home / "logs")
    snapshots = Snapshots(stack)
    try:
        submitted = submit(stack, WAVE)
        wait_for(lambda: snapshots.ended(list(submitted)) >= WAVE // 3, 180, "a third of the first wave")
        _kill_and_wait_restarted(home, "kafka", lambda: kafka_error(kafka) is None)
        submitted |= submit(stack, WAVE)
        wait_for(lambda: snapshots.ended(list(submitted)) >= WAVE, 300, "executions ending after Kafka's restart")
        _kill_and_wait_restarted(home, "elasticsearch", lambda: elasticsearch_error(es) is None)
        submitted |= submit(stack, WAVE)
        snapshots.wait(list(submitted), timeout=300)
        check_executions(snapshots, submitted)
        check_index_matches_kafka(stack, timeout=180)
        status = _cli(env, "status", "--output", "json")
        report = json.loads(status.stdout)
        assert status.returncode == 0 and all(s["alive"] for s in report["servers"].values()), status.stdout
        log = (home / "up.log").read_text()
        assert "kafka (pid" in log and "elasticsearch (pid" in log and "starting it again" in log
    except BaseException:
        print(stack.tail(40))
        raise
    finally:
        snapshots.close()
        final = _state(home) if (home / "stack.json").exists() else state
        down = _cli(env, "down")
    assert down.returncode == 0
    assert _wait_gone([*_stack_pids(final), *final["servers"].values()]) == []
