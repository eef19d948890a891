"""Files through the HTTP API on the real Kafka and Elasticsearch, with the local-directory storage: a FILE input
uploaded as `multipart/form-data` (its value the storage URI), then the execution's file downloaded and
previewed, only by a caller who may read its namespace, and only files of that execution."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.common.events import ExecutionCreated
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import ElasticsearchSettings, IndexerSettings, KafkaSettings
from conveyor.common.storage import default_storage
from conveyor.indexer.service import Indexer
from tests.apiserver import ADMIN_AUTH, PASSWORD, auth_with, serving, user
from tests.integration import inprocess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FLOW = """\
id: upload
namespace: files.a
inputs:
  - {id: data, type: FILE}
  - {id: note, type: STRING, required: false}
tasks:
  - {id: hello, type: io.kestra.plugin.core.debug.Return, format: "{{ inputs.data }}"}
"""
CSV = b"id,name\n1,Ada\n2,Grace\n"


@dataclass
class Api:
    http: httpx.Client
    kafka: KafkaSettings
    es: ElasticsearchSettings
    root: Path

    def upload(self, files: dict[str, Any], data: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post("/api/v1/executions/files.a/upload", files=files, data=data or {})


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, elasticsearch_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    prefix = f"t-files-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=1)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    root = tmp_path_factory.mktemp("storage")
    users = {"reader": user("viewer@files.a"), "stranger": user("viewer@files.b")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVEYOR_STORAGE_TYPE", "local")
        patch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(root))
        patch.setenv("CONVEYOR_STORAGE_PREVIEW_LIMIT", "20")
        default_storage.cache_clear()
        with serving(kafka, es, auth=auth_with(users)) as base, httpx.Client(base_url=base, timeout=30) as http:
            http.auth = ADMIN_AUTH
            deployed = http.post("/api/v1/flows", content=FLOW, headers={"content-type": "application/x-yaml"})
            assert deployed.status_code == 201, deployed.text
            yield Api(http, kafka, es, root)
        default_storage.cache_clear()


def _indexed(api: Api, execution_id: str) -> None:
    """The execution's header indexed (what the executor and indexer do for a running execution)."""
    topic = Topics.of(api.kafka).execution_events
    raw = next(m.value for m in read_partitions_to_end(api.kafka, [(topic, 0)]) if m.key == execution_id.encode())
    assert raw is not None
    created = ExecutionCreated.model_validate_json(raw)
    indexer = Indexer(api.kafka, api.es, IndexerSettings(batch_size=10, flush_interval=0.2), backoff=(0.1, 0.5))
    with inprocess.serving(indexer, ready_timeout=60):
        producer = Producer(api.kafka)
        producer.send(Topics.of(api.kafka).executions, execution_id, created.execution.to_json())
        producer.flush()
        deadline = time.monotonic() + 60
        while api.http.get(f"/api/v1/executions/{execution_id}").status_code != 200:
            assert time.monotonic() < deadline, "the execution was not indexed"
            time.sleep(0.2)


def test_a_multipart_upload_is_stored_and_its_uri_is_the_input(api: Api) -> None:
    started = api.upload({"data": ("people.csv", CSV, "text/csv")}, {"note": "hi"})
    assert started.status_code == 200, started.text
    execution = started.json()
    uri = f"kestra:///files/a/upload/executions/{execution['id']}/inputs/data/people.csv"
    assert execution["inputs"] == {"data": uri, "note": "hi"}
    assert (api.root / uri.removeprefix("kestra:///")).read_bytes() == CSV

    _indexed(api, execution["id"])
    base = f"/api/v1/executions/{execution['id']}/file"
    got = api.http.get(base, params={"path": uri})
    assert got.status_code == 200 and got.content == CSV
    assert 'filename="people.csv"' in got.headers["content-disposition"]
    preview = api.http.get(base + "/preview", params={"path": uri})
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"type": "csv", "rows": [["id", "name"], ["1", "Ada"]], "truncated": True}

    reader = api.http.get(base, params={"path": uri}, auth=("reader", PASSWORD))
    assert reader.status_code == 200 and reader.content == CSV
    stranger = api.http.get(base, params={"path": uri}, auth=("stranger", PASSWORD))
    assert stranger.status_code == 404, stranger.text  # not theirs to read: as unknown

    other = uri.replace(execution["id"], "someone-else")
    refused = api.http.get(base, params={"path": other})
    assert refused.status_code == 400 and refused.json()["errors"][0]["parameter"] == "path"
    sneaky = api.http.get(base, params={"path": uri.replace("inputs/data", "inputs/../../someone-else/inputs/data")})
    assert sneaky.status_code == 400
    missing = api.http.get(base, params={"path": uri.replace("people.csv", "nobody.csv")})
    assert missing.status_code == 404
    unknown = api.http.get("/api/v1/executions/no-such-execution/file", params={"path": uri})
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("parts", "parameter", "message"),
    [
        ({"note": ("n.txt", b"x")}, "note", "a file was uploaded for it, but it is a STRING input, not FILE"),
        ({"nope": ("n.txt", b"x")}, "nope", "a file was uploaded for it, but it is not an input of the flow"),
        # (None, value): a plain field of the multipart form, not a file
        ({"note": (None, b"no file")}, "inputs.data", "missing required input (FILE)"),
        ({"data": (None, b"/etc/passwd")}, "inputs.data", "expected a file (an upload, or a kestra:/// storage URI)"),
    ],
)
def test_bad_uploads_are_4xx_naming_the_field(api: Api, parts: dict[str, Any], parameter: str, message: str) -> None:
    answer = api.upload(parts)
    assert answer.status_code == 422, answer.text
    errors = {e["parameter"]: e["message"] for e in answer.json()["errors"]}
    assert message in errors[parameter], answer.text


def test_a_json_body_that_is_not_an_object_is_a_422_naming_the_body(api: Api) -> None:
    answer = api.http.post("/api/v1/executions/files.a/upload", json=["data"])
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["parameter"] == "body"
