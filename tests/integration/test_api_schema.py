"""The API against its own OpenAPI document, fuzzed by schemathesis on the real Kafka and Elasticsearch, and
its flow endpoint fed the malformed flows the loader is fuzzed with.

schemathesis runs every check (`--checks all`): no server error, no status code or body the document does
not declare, no schema-valid request rejected, no schema-violating one accepted. The run is bounded
(`MAX_EXAMPLES` per operation, deterministic generation: the same cases on every run) and writes its report
to `test-output/schemathesis.txt`. What the document names but JSON Schema cannot say (a valid flow's YAML,
a page cursor, one parameter bounded by another) is taught to it in `tests/integration/schemathesis_hooks.py`.

Every request carries the headers of the `api_headers` fixture: none today; with authentication, that
fixture gives the token.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.common.errors import FlowError
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.apiserver import ADMIN_HEADERS, auth_with, serving
from tests.unit.test_loader_fuzz import BAD_FILES, FUZZ, load, mutated

pytestmark = [pytest.mark.integration, pytest.mark.timeout(960)]

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 30  # per operation and phase: about a minute on two quiet cores; the limits below allow for load


@pytest.fixture
def api_headers() -> dict[str, str]:
    """The headers every request of these tests sends: the admin's credentials."""
    return dict(ADMIN_HEADERS)


@pytest.fixture
def api_url(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> Iterator[str]:
    # schemathesis tries wrong credentials on purpose, all from 127.0.0.1: no limit on failed sign-ins here
    with serving(kafka_settings, es_settings, auth=auth_with(max_failures=10**9)) as url:
        yield url


def test_the_api_keeps_to_its_openapi_document(
    api_url: str, api_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{api_url}/openapi.json", "--checks", "all"]
    command += ["--max-examples", str(MAX_EXAMPLES), "--generation-deterministic", "--workers", "1", "--no-color"]
    for name, value in api_headers.items():
        command += ["--header", f"{name}: {value}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    with caplog.at_level(logging.ERROR):
        result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    report = ROOT / "test-output" / "schemathesis.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text(result.stdout + result.stderr)
    summary = "\n".join(result.stdout.splitlines()[-25:])
    assert result.returncode == 0, f"schemathesis found failures (all of them in {report}):\n{summary}"
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert not tracebacks, f"the server logged {len(tracebacks)} tracebacks, first: {tracebacks[0].getMessage()}"


def check_answer(client: httpx.Client, raw: bytes) -> None:
    """POST the bytes as a flow: refused flows are a 4xx naming what the loader names, never a 500."""
    answer = client.post("/api/v1/flows", content=raw, headers={"content-type": "application/x-yaml"})
    assert answer.status_code < 500, (raw[:200], answer.text)
    expected = load(raw)
    if not isinstance(expected, FlowError) or not raw.strip():
        return
    assert answer.status_code == 422, (raw[:200], answer.text)
    body = answer.json()
    assert body["message"].startswith("invalid flow request body:")
    got = [(e["field"], e["line"], e["column"]) for e in body["errors"]]
    assert got == [(p.field, p.line, p.column) for p in expected.problems], body


def test_deploying_malformed_flows_is_a_4xx_naming_the_field(api_url: str, api_headers: dict[str, str]) -> None:
    with httpx.Client(base_url=api_url, headers=api_headers, timeout=30) as client:
        for raw in BAD_FILES.values():
            check_answer(client, raw)
        answer = client.post("/api/v1/flows", content=BAD_FILES["duplicate.yaml"])
        assert "request body:7:1: id: duplicate key 'id'" in answer.json()["message"]

        @settings(FUZZ, max_examples=80)
        @given(st.one_of(mutated(), st.binary(max_size=300)))
        def fuzzed(raw: bytes) -> None:
            check_answer(client, raw)

        fuzzed()
