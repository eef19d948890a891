"""Typed inputs through the HTTP API on the real Kafka and Elasticsearch: a flow deployed with several
input types, an execution started with JSON values (typed, nested by dotted id, its SECRET never in the
answer, the Kafka record or the index), and bad values answered 422 naming the input and the rule."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conveyor.common.events import ExecutionCreated
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import ElasticsearchSettings, IndexerSettings, KafkaSettings
from conveyor.indexer.service import Indexer
from tests.apiserver import ADMIN_AUTH, serving
from tests.integration import inprocess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FLOW = """\
id: typed
namespace: api.inputs
inputs:
  - {id: code, type: STRING, validator: 'A\\d+'}
  - {id: count, type: INT, min: 1, max: 5, defaults: 2}
  - {id: wait, type: DURATION, max: PT1H, required: false}
  - {id: day, type: DATE, after: 2024-01-01, required: false}
  - {id: region, type: SELECT, values: [eu, us], defaults: eu}
  - {id: tags, type: MULTISELECT, values: [a, b, c], required: false}
  - {id: sizes, type: ARRAY, itemType: INT, required: false}
  - {id: token, type: SECRET}
  - {id: opt.note, type: STRING, required: false}
  - {id: opt.level, type: INT, required: false}
tasks:
  - {id: hello, type: io.kestra.plugin.core.debug.Return, format: "{{ inputs.code }} {{ inputs.opt.note }}"}
"""
SECRET = "hunter2-do-not-index"


class Api:
    def __init__(self, base: str, kafka: KafkaSettings, es: ElasticsearchSettings) -> None:
        self.http = httpx.Client(base_url=base, timeout=30, auth=ADMIN_AUTH)
        self.kafka = kafka
        self.es = es

    def start(self, inputs: dict[str, Any]) -> httpx.Response:
        return self.http.post("/api/v1/executions/api.inputs/typed", json=inputs)


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[Api]:
    prefix = f"t-inputs-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=1)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    with serving(kafka, es) as base:
        client = Api(base, kafka, es)
        deployed = client.http.post("/api/v1/flows", content=FLOW, headers={"content-type": "application/x-yaml"})
        assert deployed.status_code == 201, deployed.text
        yield client
        client.http.close()


def test_typed_nested_inputs_and_a_secret_that_is_never_shown_or_indexed(api: Api) -> None:
    given = {
        "code": "A42",
        "wait": "PT30M",
        "day": "2024-03-01",
        "tags": ["a", "c"],
        "sizes": "[1, 2]",
        "token": SECRET,
        "opt.note": "hi",
    }
    started = api.start(given)
    assert started.status_code == 200, started.text
    execution = started.json()
    assert execution["inputs"] == {
        "code": "A42",
        "count": 2,
        "wait": "PT30M",
        "day": "2024-03-01",
        "region": "eu",
        "tags": ["a", "c"],
        "sizes": [1, 2],
        "token": "******",
        "opt": {"note": "hi", "level": None},
    }

    topic = Topics.of(api.kafka).execution_events
    records = list(read_partitions_to_end(api.kafka, [(topic, 0)]))
    raw = next(m.value for m in records if m.key == execution["id"].encode())
    assert raw is not None and SECRET.encode() not in raw  # sealed in the Kafka record too
    created = ExecutionCreated.model_validate_json(raw)

    # what the indexer writes of the execution, read back through the API
    indexer = Indexer(api.kafka, api.es, IndexerSettings(batch_size=10, flush_interval=0.2), backoff=(0.1, 0.5))
    with inprocess.serving(indexer, ready_timeout=60):
        producer = Producer(api.kafka)
        producer.send(Topics.of(api.kafka).executions, created.execution_id, created.execution.to_json())
        producer.flush()
        answer = _eventually(lambda: api.http.get(f"/api/v1/executions/{created.execution_id}"))
    shown = answer.json()
    assert shown["inputs"]["token"] == "******" and shown["inputs"]["opt"] == {"note": "hi", "level": None}
    assert SECRET not in answer.text and "conveyor-secret" not in answer.text


def _eventually(get: Any, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        answer: httpx.Response = get()
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            return answer
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("inputs", "parameter", "rule"),
    [
        ({"token": "t"}, "inputs.code", "missing required input (STRING)"),
        ({"code": "B1", "token": "t"}, "inputs.code", "it must match the pattern `A\\d+`, but received `B1`"),
        ({"code": "A1", "count": 9, "token": "t"}, "inputs.count", "it must be less than `5`, but received `9`"),
        ({"code": "A1", "count": "two", "token": "t"}, "inputs.count", "expected an integer (INT), got `two`"),
        ({"code": "A1", "wait": "PT2H", "token": "t"}, "inputs.wait", "it must be less than `PT1H`"),
        ({"code": "A1", "day": "2023-05-05", "token": "t"}, "inputs.day", "it must be after `2024-01-01`"),
        ({"code": "A1", "region": "mars", "token": "t"}, "inputs.region", "it must match the values `[eu, us]`"),
        ({"code": "A1", "tags": ["z"], "token": "t"}, "inputs.tags", "it must match the values `[a, b, c]`"),
        ({"code": "A1", "sizes": ["x"], "token": "t"}, "inputs.sizes", "Unable to parse array element as `INT`"),
        ({"code": "A1", "opt.level": "high", "token": "t"}, "inputs.opt.level", "expected an integer (INT)"),
        ({"code": "A1", "token": "t", "extra": 1}, "inputs", "unknown input 'extra'"),
    ],
)
def test_a_bad_value_is_a_422_naming_the_input_and_the_rule(
    api: Api, inputs: dict[str, Any], parameter: str, rule: str
) -> None:
    answer = api.start(inputs)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [e["parameter"] for e in errors] == [parameter]
    assert rule in errors[0]["message"] and errors[0]["in"] == "body"


def test_a_flow_whose_input_has_an_unknown_property_is_refused_with_its_line(api: Api) -> None:
    bad = FLOW.replace("{id: wait, type: DURATION,", "{id: wait, type: DURATION, colour: red,")
    answer = api.http.post("/api/v1/flows", content=bad, headers={"content-type": "application/x-yaml"})
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert (error["field"], error["line"]) == ("inputs[2].colour", 6)
    assert error["message"] == "unknown property 'colour'"
