"""Deploying flows from the CLI (`conveyor flows deploy|list|get|delete`) and the API's equivalents
(`GET /api/v1/flows`, `GET /api/v1/flows/{ns}/{id}?revision=`, `DELETE`), on the real Kafka: what one
deploys the other reads, a batch with one invalid flow deploys nothing, a deleted flow is a 404."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conveyor.common.deployed import DeployedFlow
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.apiserver import ADMIN_AUTH, serving
from tests.cli import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def flow(namespace: str, flow_id: str, message: str = "hello") -> str:
    return f"""# a comment kept in the source
id: {flow_id}
namespace: {namespace}
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{message}"
"""


@pytest.fixture
def env(kafka_settings: KafkaSettings) -> dict[str, str]:
    return {
        **os.environ,
        "CONVEYOR_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
        "CONVEYOR_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
    }


@pytest.fixture
def http(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> Iterator[httpx.Client]:
    with serving(kafka_settings, es_settings) as url, httpx.Client(base_url=url, timeout=30, auth=ADMIN_AUTH) as client:
        yield client


def deployed(result: str) -> list[tuple[str, str, int, str]]:
    return [(r["namespace"], r["id"], r["revision"], r["result"]) for r in json.loads(result)]


def test_deploy_a_folder_is_idempotent_and_the_api_reads_it(
    tmp_path: Path, env: dict[str, str], http: httpx.Client, kafka_settings: KafkaSettings
) -> None:
    (tmp_path / "a.yaml").write_text(flow("team.etl", "extract"))
    (tmp_path / "b.yml").write_text(flow("team.etl", "load"))
    (tmp_path / "notes.txt").write_text("not a flow")
    other = tmp_path / "other.yaml"
    other.write_text(flow("sales", "report"))

    first = run_cli(env, "flows", "deploy", str(tmp_path), "--output", "json")
    assert first.returncode == 0, first.stderr
    assert deployed(first.stdout) == [
        ("team.etl", "extract", 1, "created"),
        ("team.etl", "load", 1, "created"),
        ("sales", "report", 1, "created"),  # other.yaml, in the folder too: sorted after b.yml
    ]
    again = run_cli(env, "flows", "deploy", str(tmp_path / "a.yaml"), "--output", "json")
    assert deployed(again.stdout) == [("team.etl", "extract", 1, "unchanged")]
    (tmp_path / "a.yaml").write_text(flow("team.etl", "extract", "changed"))
    changed = run_cli(env, "flows", "deploy", str(tmp_path / "a.yaml"))
    assert changed.returncode == 0 and "changed" in changed.stdout and "extract" in changed.stdout

    listed = http.get("/api/v1/flows", params={"namespace": "team"}).json()
    assert [(f["id"], f["revision"]) for f in listed["results"]] == [("extract", 2), ("load", 1)]
    assert listed["total"] == 2
    paged = http.get("/api/v1/flows", params={"page": 2, "size": 2}).json()
    assert [f["id"] for f in paged["results"]] == ["load"] and paged["total"] == 3
    latest = http.get("/api/v1/flows/team.etl/extract").json()
    assert latest["revision"] == 2 and "changed" in latest["source"]
    older = http.get("/api/v1/flows/team.etl/extract", params={"revision": 1}).json()
    assert older["revision"] == 1 and older["source"] == flow("team.etl", "extract")
    assert http.get("/api/v1/flows/team.etl/extract", params={"revision": 3}).status_code == 404

    cli_list = run_cli(env, "flows", "list", "--namespace", "sales", "--output", "json")
    assert [(f["namespace"], f["id"]) for f in json.loads(cli_list.stdout)] == [("sales", "report")]
    source = run_cli(env, "flows", "get", "team.etl", "extract", "--revision", "1")
    assert source.returncode == 0 and source.stdout == flow("team.etl", "extract")

    # a flow deployed through the API is read by the CLI
    posted = http.post("/api/v1/flows", content=flow("sales", "weekly"), headers={"content-type": "text/plain"})
    assert posted.status_code == 201
    assert run_cli(env, "flows", "get", "sales", "weekly").stdout == flow("sales", "weekly")


def test_one_invalid_flow_refuses_the_whole_batch(tmp_path: Path, env: dict[str, str], http: httpx.Client) -> None:
    (tmp_path / "good.yaml").write_text(flow("team", "good"))
    (tmp_path / "bad.yaml").write_text(flow("team", "bad").replace("core.log.Log", "core.log.Nope"))
    (tmp_path / "twice.yaml").write_text(flow("team", "good", "again"))

    refused = run_cli(env, "flows", "deploy", str(tmp_path))
    assert refused.returncode == 2
    lines = refused.stderr.splitlines()
    assert f"{tmp_path / 'bad.yaml'}:6:11: tasks[0].type: unknown task type" in lines[0]
    assert lines[1] == f"{tmp_path / 'twice.yaml'}:1:1: id: flow team/good is also in {tmp_path / 'good.yaml'}"
    assert "nothing deployed" in lines[-1] and "Traceback" not in refused.stderr
    assert http.get("/api/v1/flows").json() == {"results": [], "total": 0}

    missing = run_cli(env, "flows", "deploy", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "nope.yaml: no such file or folder" in missing.stderr


def test_delete_writes_a_deleted_revision(
    tmp_path: Path, env: dict[str, str], http: httpx.Client, kafka_settings: KafkaSettings
) -> None:
    yaml = {"content-type": "text/plain"}
    assert http.post("/api/v1/flows", content=flow("team", "gone"), headers=yaml).status_code == 201
    assert http.post("/api/v1/flows", content=flow("team", "kept"), headers=yaml).status_code == 201

    answer = http.delete("/api/v1/flows/team/gone")
    assert answer.status_code == 200 and answer.json()["deleted"] is True and answer.json()["revision"] == 2
    unknown = http.delete("/api/v1/flows/team/gone")
    never = http.get("/api/v1/flows/team/never")
    assert unknown.status_code == never.status_code == 404
    assert http.get("/api/v1/flows/team/gone").status_code == 404
    assert [f["id"] for f in http.get("/api/v1/flows").json()["results"]] == ["kept"]
    assert http.post("/api/v1/executions/team/gone", json={}).status_code == 404

    table = TopicTable(kafka_settings, Topics.of(kafka_settings).flows)
    try:
        stored = DeployedFlow.model_validate_json(table.get("team/gone") or b"")
    finally:
        table.close()
    assert stored.deleted and stored.revision == 2

    by_cli = run_cli(env, "flows", "delete", "team", "kept")
    assert by_cli.returncode == 0 and "deleted" in by_cli.stdout
    assert run_cli(env, "flows", "delete", "team", "kept").returncode == 2
    assert run_cli(env, "flows", "get", "team", "kept").returncode == 2

    # deployed again: the next revision, not 1
    again = http.post("/api/v1/flows", content=flow("team", "gone"), headers=yaml)
    assert again.status_code == 201 and again.json()["revision"] == 3
