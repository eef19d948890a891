"""The Execution page of a big execution in a real browser (Debian's Chromium through Playwright): 3,000 task
runs indexed straight into Elasticsearch (as the indexer writes them) behind `conveyor server`. The first
paint reads 200 of them; the topology is coloured from the server's counts of all 3,000 (the one FAILED task
run is the last, never loaded); a jump to row 2,500 reads the page at that position and none before it.
axe-core finds no serious or critical violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from elasticsearch.helpers import bulk

from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import TaskRunChange
from conveyor.common.model import Execution, TaskRun
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.indexer import documents, templates
from tests.apiserver import ADMIN_AUTH, serving
from tests.e2e.axe import serious_violations as _serious_violations
from tests.e2e.web import OUTPUT, browser, sign_in, until  # noqa: F401  (browser: the Chromium fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

COUNT = 3_000
JUMP = 2_500
START = datetime(2026, 2, 2, 8, tzinfo=UTC)
FLOW = """\
id: wide
namespace: web.large
tasks:
  - {id: first, type: io.kestra.plugin.core.debug.Return, format: go}
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 2999) }}"
    tasks: [{id: item, type: io.kestra.plugin.core.log.Log, message: "{{ taskrun.value }}"}]
"""


def _state(start: datetime, final: StateType, ms: int = 100) -> State:
    steps = [(StateType.CREATED, 0), (StateType.RUNNING, 1), (final, ms)]
    histories = [StateHistory(state=s, date=start + timedelta(milliseconds=t)) for s, t in steps]
    return State(current=final, histories=histories)


def _run(n: int) -> TaskRun:
    task = "first" if n == 0 else "each" if n == 1 else "item"
    final = StateType.FAILED if n == COUNT - 1 else StateType.SUCCESS
    return TaskRun(
        id=f"tr-{n:05d}",
        execution_id="ex-large",
        namespace="web.large",
        flow_id="wide",
        task_id=task,
        parent_task_run_id="tr-00001" if n > 1 else None,
        value=str(n) if n > 1 else None,
        state=_state(START + timedelta(milliseconds=10 * n), final),
    )


@pytest.fixture
def base(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> Iterator[str]:
    prefix, es = es_settings.index_prefix, es_settings
    client = elasticsearch_client(es)
    templates.install(client, prefix)
    changes = (TaskRunChange(revision=1, task_run=_run(n)) for n in range(COUNT))
    actions = [documents.taskrun_action(prefix, change).bulk() for change in changes]
    execution = Execution(
        id="ex-large",
        namespace="web.large",
        flow_id="wide",
        flow_revision=1,
        state=_state(START, StateType.FAILED, ms=31_000),
        task_run_count=COUNT,
        revision=COUNT,
    )
    bulk(client, [*actions, documents.execution_action(prefix, execution).bulk()], refresh=True)
    client.close()
    with serving(kafka_settings, es) as url:
        with httpx.Client(base_url=url, auth=ADMIN_AUTH, timeout=30) as http:
            deployed = http.post("/api/v1/flows", content=FLOW, headers={"content-type": "application/x-yaml"})
            assert deployed.status_code == 201, deployed.text
        yield url


def test_a_big_execution_coloured_from_all_its_task_runs_and_a_deep_jump_reads_one_page(
    base: str,
    browser: Any,  # noqa: F811
) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/taskruns" in r.url else None)
    sign_in(page, base, "/execution.html?id=ex-large")
    page.wait_for_selector("body[data-painted]")
    assert page.locator("#gantt-count").inner_text() == "3,000"
    # the topology: `item` is FAILED by its last task run, which is not loaded (200 of 3,000 are)
    until(page, "document.querySelector('.topology-node[data-task=item]')?.dataset.state === 'FAILED'")
    assert page.locator("#topology-note").inner_text() == "states of all 3,000 task runs"
    title = page.locator(".topology-node[data-task=item] title").text_content() or ""
    assert title.endswith("2998 task runs"), title
    assert page.locator(".topology-node[data-task=first]").get_attribute("data-state") == "SUCCESS"
    loaded = int(page.evaluate("() => document.querySelectorAll('#gantt-rows .gantt-row:not(.loading)').length"))
    assert loaded > 0

    # a jump to row 2,500: the page at that position, no page of the 2,300 rows in between
    asked.clear()
    page.evaluate(f"() => {{ document.querySelector('#gantt-body').scrollTop = {JUMP} * 28; }}")
    row = page.locator(f"#gantt-rows .gantt-row[data-index='{JUMP}']")
    row.wait_for()
    assert row.locator(".value").inner_text() == str(JUMP)
    pages = [url for url in asked if "/taskruns" in url and "/counts" not in url]
    assert pages and all("offset=" in url for url in pages), pages
    assert all(int(url.split("offset=")[1].split("&")[0]) >= JUMP - 100 for url in pages), pages
    # and the drawer of a row found there opens its task run
    row.locator(".gantt-label").click()
    page.locator("#drawer.open").wait_for()
    assert f"tr-{JUMP:05d}" in page.locator("#drawer-meta").inner_text()
    page.click("#drawer-close")

    found = _serious_violations(page)
    assert found == [], "\n".join(found)
    assert errors == []
    page.close()
