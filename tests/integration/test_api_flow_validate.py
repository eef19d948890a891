"""`POST /api/v1/flows/validate`: the Flows page's editor asks it while the user types. A valid flow answers
its namespace, id and inputs; an invalid one each problem at its line and column; nothing is deployed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.apiserver import ADMIN_AUTH, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

VALID = """\
id: checked
namespace: web.validate
inputs:
  - id: who
    type: STRING
    defaults: world
    displayName: Who
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.who }}"
"""


@pytest.fixture
def http(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> Iterator[httpx.Client]:
    with serving(kafka_settings, es_settings) as url, httpx.Client(base_url=url, timeout=30, auth=ADMIN_AUTH) as client:
        yield client


def test_a_valid_flow_answers_its_identity_and_inputs_and_is_not_deployed(http: httpx.Client) -> None:
    answer = http.post("/api/v1/flows/validate", content=VALID, headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["valid"] is True
    assert (body["namespace"], body["id"]) == ("web.validate", "checked")
    assert body["inputs"][0]["id"] == "who"
    assert body["inputs"][0]["defaults"] == "world"
    assert body["inputs"][0]["displayName"] == "Who"
    assert http.get("/api/v1/flows/web.validate/checked").status_code == 404
    assert body["warnings"] == []


def test_a_valid_flow_answers_the_warnings_conveyor_validate_prints(http: httpx.Client) -> None:
    doubtful = VALID.replace("defaults: world", "defaults: world\n  - id: n\n    type: INT\n    defaults: abc")
    doubtful = doubtful.replace("{{ inputs.who }}", "{{ inputs.who | nosuchfilter }}")
    body = http.post("/api/v1/flows/validate", content=doubtful, headers={"Content-Type": "text/plain"}).json()
    assert body["valid"] is True, body
    found = {(w["field"], w["line"]) for w in body["warnings"]}
    assert found == {("inputs[1].defaults", 9), ("tasks[0].message", 14)}, body["warnings"]
    assert all(w["message"] and w["column"] for w in body["warnings"])


def test_an_invalid_flow_answers_each_problem_at_its_line_and_column(http: httpx.Client) -> None:
    broken = VALID.replace("type: io.kestra.plugin.core.log.Log", "type: io.kestra.plugin.core.log.Lgo")
    body = http.post("/api/v1/flows/validate", content=broken, headers={"Content-Type": "text/plain"}).json()
    assert body["valid"] is False
    [problem] = body["errors"]
    assert (problem["line"], problem["column"], problem["field"]) == (10, 11, "tasks[0].type")  # where it is written
    assert "Lgo" in problem["message"]


def test_bad_yaml_and_an_empty_body_are_problems_not_errors(http: httpx.Client) -> None:
    body = http.post("/api/v1/flows/validate", content="id: [unclosed\n").json()
    assert body["valid"] is False and body["errors"][0]["line"] >= 1
    empty = http.post("/api/v1/flows/validate", content="").json()
    assert empty == {
        "valid": False,
        "errors": [{"field": "", "message": "the flow's YAML is empty", "line": 1, "column": 1}],
    }


def test_it_needs_a_signed_in_user(http: httpx.Client) -> None:
    answer = httpx.post(http.base_url.join("/api/v1/flows/validate"), content=VALID)
    assert answer.status_code == 401
