"""The Flows page in a real browser (Debian's Chromium through Playwright) on the real Kafka and Elasticsearch:
write a flow with a mistake and see the error at its line, fix it, save (deploy), change it and save again,
read the diff of the two revisions, then execute it with an input from the generated form. The triggers panel
(with a scheduler) shows each trigger's type, state and next date, and disables and enables a webhook. axe-core finds no
serious or critical accessibility violation on the list or the flow page, at desktop and at phone width.

Screenshots land in `test-output/`: `web-flow-editor-error.png`, `web-flow-page.png`, `web-flows.png`,
`web-flow-triggers.png`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.common.settings import ElasticsearchSettings, KafkaSettings, SchedulerSettings
from conveyor.scheduler.service import Scheduler
from tests.apiserver import ADMIN_AUTH, PASSWORD, auth_with, serving, user
from tests.cli import ROOT
from tests.e2e.axe import AXE
from tests.e2e.axe import serious_violations as _serious_violations
from tests.e2e.web import OUTPUT, browser, open_page, sign_in, until  # noqa: F401  (browser: the Chromium fixture)
from tests.integration.inprocess import serving as running

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BROKEN = """\
id: greeter
namespace: web.flows
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Lgo
    message: "hello {{ inputs.who }}"
"""
FIXED = BROKEN.replace("log.Lgo", "log.Log")
CHANGED = (
    FIXED
    + """\
  - id: again
    type: io.kestra.plugin.core.debug.Return
    format: "bye {{ inputs.who }}"
"""
)


@pytest.fixture
def server(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> Iterator[httpx.Client]:
    auth = auth_with({"viewer": user("viewer@web.flows")})
    with (
        serving(kafka_settings, es_settings, auth=auth) as url,
        httpx.Client(base_url=url, timeout=30, auth=ADMIN_AUTH) as client,
    ):
        yield client


def _paste_flow(page: Any, text: str) -> None:
    """Replace the editor's whole text, as a paste would (typed text would be auto-indented)."""
    page.evaluate("text => document.querySelector('#editor').conveyorEditor.setValue(text)", text)


def test_write_fix_save_diff_and_execute_a_flow(server: httpx.Client, browser: Any) -> None:  # noqa: F811
    assert AXE.exists(), f"{AXE} is missing: ./dev installs ui/node_modules (npm ci)"
    OUTPUT.mkdir(exist_ok=True)
    base = str(server.base_url).rstrip("/")
    page, errors = open_page(browser, base, "/flows/new")
    page.locator("#editor .cm-editor").wait_for()

    # a mistake: the unknown type is flagged at its line, in the gutter and under the editor
    _paste_flow(page, BROKEN)
    problem = page.locator("#problems li").first
    problem.wait_for()
    assert problem.inner_text().startswith("9:11 tasks[0].type: unknown task type 'io.kestra.plugin.core.log.Lgo'")
    page.locator("#editor .cm-lint-marker-error").first.wait_for()
    page.screenshot(path=str(OUTPUT / "web-flow-editor-error.png"), full_page=True, animations="disabled")

    # a flow that loads but has an expression that cannot compile: a warning, marked as one, not an error
    _paste_flow(page, FIXED.replace("{{ inputs.who }}", "{{ inputs.who "))
    until(page, "document.querySelector('#problems li.warning') !== null")
    warning = page.locator("#problems li.warning").first.inner_text()
    assert warning.startswith("10:14 warning: tasks[0].message: invalid expression"), warning
    page.locator("#editor .cm-lint-marker-warning").first.wait_for()
    assert page.locator("#editor .cm-lint-marker-error").count() == 0
    _paste_flow(page, BROKEN)
    until(page, "document.querySelector('#problems li.problem:not(.warning)') !== null")

    # fixed by typing on that line: the problems go away; Save deploys revision 1 and moves to the flow's page
    page.locator("#editor .cm-line", has_text="log.Lgo").click()
    page.keyboard.press("End")
    for _ in range(3):
        page.keyboard.press("Backspace")
    page.keyboard.type("Log")
    until(page, "document.querySelectorAll('#problems li').length === 0")
    page.click("#save")
    page.wait_for_url("**/flows/web.flows/greeter")
    page.locator("#editor .cm-editor").wait_for()
    assert server.get("/api/v1/flows/web.flows/greeter").json()["revision"] == 1
    assert _serious_violations(page) == []  # the revisions' diff shown, of the one revision

    # a change saved is revision 2; the diff of 1 → 2 shows the added task
    _paste_flow(page, CHANGED)
    until(page, "document.querySelector('#status').textContent === 'unsaved changes'")
    page.click("#save")
    until(page, "document.querySelector('#status').textContent.includes('revision 2')")
    until(page, "document.querySelectorAll('#diff .diff-added').length === 3")
    added = page.locator("#diff .diff-added").all_inner_texts()
    assert added[0].strip() == "+   - id: again"
    assert page.locator("#diff .diff-removed").count() == 0
    assert page.locator("#triggers tbody").inner_text() == "This flow has no triggers."
    assert _serious_violations(page) == []

    # Execute: the form has the flow's input with its default; the new execution's id is linked
    page.click("#execute")
    field = page.locator("#execute-inputs input[name='who']")
    field.wait_for()
    assert field.input_value() == "world"
    field.fill("ada")
    page.click("#execute-form button[type=submit]")
    started = page.locator("#started-execution")
    started.wait_for()
    execution_id = started.inner_text()
    assert execution_id
    page.screenshot(path=str(OUTPUT / "web-flow-page.png"), full_page=True, animations="disabled")

    # the list finds it by namespace, and reads well on a phone
    page.goto(base + "/flows?namespace=web.flows")
    page.locator("#flows tbody tr").first.wait_for()
    assert page.locator("#flows tbody tr td a").all_inner_texts() == ["greeter"]
    assert _serious_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(OUTPUT / "web-flows.png"), full_page=True, animations="disabled")
    assert _serious_violations(page) == []
    assert errors == []
    page.close()


TRIGGERED = """\
id: triggered
namespace: web.flows
tasks:
  - {id: t, type: io.kestra.plugin.core.debug.Return, format: x}
triggers:
  - {id: nightly, type: io.kestra.plugin.core.trigger.Schedule, cron: "30 2 * * *", timezone: Europe/Paris}
  - id: after_greeter
    type: io.kestra.plugin.core.trigger.Flow
    conditions: [{type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: web.flows, flowId: greeter}]
  - {id: hook, type: io.kestra.plugin.core.trigger.Webhook, key: web-k3y}
  - {id: parked, type: io.kestra.plugin.core.trigger.Webhook, key: parked-k3y, disabled: true}
"""


def _until_listed(server: httpx.Client, check: Callable[[dict[str, dict[str, Any]]], bool]) -> None:
    deadline = time.monotonic() + 30
    while True:
        rows = {r["triggerId"]: r for r in server.get("/api/v1/triggers", params={"namespace": "web.flows"}).json()}
        if check(rows):
            return
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)


def _cells(page: Any, trigger_id: str) -> list[str]:
    return [c.strip() for c in page.locator(f"#triggers tbody tr[data-trigger='{trigger_id}'] td").all_inner_texts()]


def test_the_triggers_panel_shows_next_dates_and_disables_and_enables_a_trigger(
    server: httpx.Client,
    browser: Any,  # noqa: F811
    kafka_settings: KafkaSettings,
) -> None:
    assert server.post("/api/v1/flows", content=TRIGGERED, headers={"content-type": "text/plain"}).status_code == 201
    base = str(server.base_url).rstrip("/")
    hook = "/api/v1/executions/webhook/web.flows/triggered/web-k3y"
    scheduler = Scheduler(kafka_settings, SchedulerSettings(poll_timeout=0.05, flows_refresh=0.2))
    with running(scheduler):
        # the page reads the triggers once: open it when the scheduler has the schedule's state (its next slot)
        _until_listed(server, lambda rows: bool(rows["nightly"].get("next")))
        page, errors = open_page(browser, base, "/flows/web.flows/triggered")
        page.locator("#triggers tbody tr[data-trigger='hook']").wait_for()
        rows = page.locator("#triggers tbody tr").evaluate_all("rows => rows.map(r => r.dataset.trigger)")
        assert rows == ["nightly", "after_greeter", "hook", "parked"]
        # the schedule's next slot: 02:30 in Paris, shown in the browser's locale and time zone (UTC here)
        nightly = _cells(page, "nightly")
        assert nightly[:3] == ["nightly", "Schedule", "yes"] and nightly[4] == "Disable"
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}, (1|12):30:00 AM", nightly[3]), nightly
        assert _cells(page, "after_greeter") == ["after_greeter", "Flow", "yes", "—", "Disable"]
        assert _cells(page, "parked") == ["parked", "Webhook", "no (definition)", "—", ""]  # only a redeploy
        assert _serious_violations(page) == []

        # Disable the webhook from the page: once the scheduler recorded it, the row says so and it answers 404
        assert server.post(hook, json={}).status_code == 200
        page.click("#triggers button[aria-label='Disable trigger hook']")
        until(page, "document.querySelector('#status').textContent === 'trigger hook disabled'")
        assert _cells(page, "hook") == ["hook", "Webhook", "no (request)", "—", "Enable"]
        assert server.post(hook, json={}).status_code == 404
        page.screenshot(path=str(OUTPUT / "web-flow-triggers.png"), full_page=True, animations="disabled")

        page.click("#triggers button[aria-label='Enable trigger hook']")
        until(page, "document.querySelector('#status').textContent === 'trigger hook enabled'")
        assert _cells(page, "hook")[2:] == ["yes", "—", "Disable"]
        assert server.post(hook, json={}).status_code == 200
        assert errors == []
        page.close()

        # a viewer sees the buttons disabled: toggling a trigger needs the developer role
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        viewer = context.new_page()
        sign_in(viewer, base, "/flows/web.flows/triggered", ("viewer", PASSWORD))
        viewer.locator("#triggers tbody tr[data-trigger='hook']").wait_for()
        toggles = viewer.locator("#triggers button[data-trigger]")
        assert toggles.count() == 3
        assert toggles.evaluate_all("bs => bs.every(b => b.disabled && b.title.includes('developer role'))")
        context.close()


def test_the_bundles_carry_their_licences() -> None:
    vendor = ROOT / "api" / "static" / "vendor"
    licences = (vendor / "LICENSES.txt").read_text()
    for bundle in ("editor.js", "graph.js", "diff.js"):
        assert (vendor / bundle).stat().st_size > 1000, bundle
    for name in ("@codemirror/view", "@dagrejs/dagre", "diff"):
        assert f"\n{name} " in licences, name
    assert Path(vendor / "packages.json").exists()
