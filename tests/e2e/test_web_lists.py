"""The Executions and Logs pages in a real browser (Debian's Chromium through Playwright) on the real stack:
executions started through the API, run by the executor and workers, indexed by the indexer; then the
Executions page filters them (labels, state), sorts by keyboard, links each to its Execution page, restarts
the failed one and kills the running one from the selection; the Logs page finds lines by words and level
across executions; a viewer sees Kill, Restart, Save and Execute disabled. axe-core finds no serious or
critical violation, at desktop and at phone width.

Screenshots land in `test-output/`: `web-executions.png`, `web-logs.png`, `web-executions-phone.png`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apiserver import PASSWORD, user
from tests.e2e.axe import serious_violations as _serious_violations
from tests.e2e.conftest import Stack
from tests.e2e.web import OUTPUT, browser, deploy, open_page, sign_in, start_server, until  # noqa: F401  (browser)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FLOWS = [
    """\
id: batch
namespace: web.list
tasks:
  - id: work
    type: io.kestra.plugin.core.log.Log
    message: processing the nightly batch
""",
    """\
id: sleepy
namespace: web.list
tasks:
  - id: announce
    type: io.kestra.plugin.core.log.Log
    message: going to sleep
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5M
""",
    """\
id: broken
namespace: web.list
tasks:
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: about to fail
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: always failing
""",
]


@pytest.fixture(scope="module")
def server(e2e_stack: Stack) -> Iterator[httpx.Client]:
    client = start_server(e2e_stack, {"viewer": user("viewer@web.list")})
    yield client
    client.close()


@pytest.fixture(scope="module")
def started(e2e_stack: Stack, server: httpx.Client) -> dict[str, str]:
    """flow id (batch-prod, batch-dev, sleepy, broken) -> execution id, once each is where the test wants it."""
    deploy(server, *FLOWS, statuses=(201,))
    ids = {}
    for name, flow, labels in (
        ("batch-prod", "batch", ["env:prod"]),
        ("batch-dev", "batch", ["env:dev"]),
        ("sleepy", "sleepy", []),
        ("broken", "broken", []),
    ):
        answer = server.post(f"/api/v1/executions/web.list/{flow}", params={"labels": labels}, json={})
        assert answer.status_code == 200, answer.text
        ids[name] = answer.json()["id"]
    want = {"batch-prod": "SUCCESS", "batch-dev": "SUCCESS", "sleepy": "RUNNING", "broken": "FAILED"}

    def settled() -> bool:
        found = server.get("/api/v1/executions/search", params={"namespace": "web.list", "size": 10}).json()
        states = {e["id"]: e["state"]["current"] for e in found.get("results", [])}
        logs = server.get("/api/v1/logs/search", params={"namespace": "web.list"}).json()
        return all(states.get(ids[k]) == v for k, v in want.items()) and logs.get("total", 0) >= 4

    assert e2e_stack.poll(settled, timeout=120), f"the executions did not settle\n{e2e_stack.tail()}"
    return ids


def _state_of(server: httpx.Client, execution_id: str) -> str:
    return str(server.get(f"/api/v1/executions/{execution_id}").json()["state"]["current"])


def _rows(page: Any) -> list[str]:
    return list(page.locator("#executions tbody tr").evaluate_all("rs => rs.map(r => r.dataset.id)"))


def test_the_executions_page_filters_sorts_and_kills_and_restarts(
    started: dict[str, str],
    server: httpx.Client,
    browser: Any,  # noqa: F811
    e2e_stack: Stack,
) -> None:
    OUTPUT.mkdir(exist_ok=True)
    base = str(server.base_url).rstrip("/")
    page, errors = open_page(browser, base, "/executions?namespace=web.list")
    page.on("dialog", lambda dialog: dialog.accept())
    until(page, "document.querySelectorAll('#executions tbody tr').length === 4")
    assert page.locator("#total").inner_text() == "4"
    assert page.locator("nav a[aria-current=page]").inner_text() == "Executions"
    link = page.locator(f"#executions tr[data-id='{started['sleepy']}'] td.id a")
    assert link.get_attribute("href") == f"/execution.html?id={started['sleepy']}"
    assert _serious_violations(page) == []

    # labels: only the prod batch; then back to all four
    page.fill("input[name='labels']", "env:prod")
    until(page, "document.querySelectorAll('#executions tbody tr').length === 1")
    assert _rows(page) == [started["batch-prod"]]
    assert "labels=env%3Aprod" in page.url
    page.fill("input[name='labels']", "")
    until(page, "document.querySelectorAll('#executions tbody tr').length === 4")

    # sorted by flow with the keyboard: the sort button of the column head, Enter
    page.focus("#executions th[data-sort='flowId'] button")
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=flowId%3Aasc**")
    until(page, "document.querySelector('#executions tbody tr td:nth-child(4)').textContent === 'batch'")
    flows = page.locator("#executions tbody td:nth-child(4)").all_inner_texts()
    assert flows == ["batch", "batch", "broken", "sleepy"]
    assert page.locator("#executions th[data-sort='flowId']").get_attribute("aria-sort") == "ascending"
    page.screenshot(path=str(OUTPUT / "web-executions.png"), full_page=True, animations="disabled")

    # every row selected: Kill applies to the running one only, Restart to the failed one only
    page.check("#select-all")
    assert page.locator("#selected-count").inner_text() == "4 selected"
    assert page.locator("#kill").inner_text() == "Kill 1"
    assert page.locator("#restart").inner_text() == "Restart 1"
    page.click("#restart")
    until(page, "document.querySelector('#bulk-result').textContent.startsWith('Restart requested for 1')")
    assert "3 skipped" in page.locator("#bulk-result").inner_text()

    def restarted() -> bool:
        execution = server.get(f"/api/v1/executions/{started['broken']}").json()
        return "RESTARTED" in [h["state"] for h in execution["state"]["histories"]]

    assert e2e_stack.poll(restarted, timeout=60), "the restart did not reach the execution"

    # the sleeping one, selected by keyboard (Space on its box), killed
    page.click("#unselect")
    box = page.locator(f"#executions tr[data-id='{started['sleepy']}'] input.select")
    box.focus()
    page.keyboard.press("Space")
    assert page.locator("#selected-count").inner_text() == "1 selected"
    assert page.locator("#restart").is_disabled()
    page.click("#kill")
    until(page, "document.querySelector('#bulk-result').textContent.startsWith('Kill requested for 1')")
    assert e2e_stack.poll(lambda: _state_of(server, started["sleepy"]) == "KILLED", timeout=60)
    page.click(".chip[data-state='KILLED']")
    until(page, "document.querySelectorAll('#executions tbody tr').length === 1")
    assert _rows(page) == [started["sleepy"]]
    assert "state=KILLED" in page.url

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(OUTPUT / "web-executions-phone.png"), full_page=True, animations="disabled")
    assert _serious_violations(page) == []
    assert errors == []
    page.close()


def test_the_logs_page_searches_every_execution(started: dict[str, str], server: httpx.Client, browser: Any) -> None:  # noqa: F811
    base = str(server.base_url).rstrip("/")
    page, errors = open_page(browser, base, "/logs?namespace=web.list")
    page.locator("#lines tbody tr").first.wait_for()
    messages = page.locator("#lines td.msg").all_inner_texts()
    assert {"processing the nightly batch", "going to sleep", "about to fail"} <= set(messages)

    page.fill("input[name='q']", "nightly batch")
    until(page, "document.querySelectorAll('#lines tbody tr').length === 2")
    assert set(page.locator("#lines td.msg").all_inner_texts()) == {"processing the nightly batch"}
    page.fill("input[name='q']", "")
    until(page, "document.querySelectorAll('#lines tbody tr').length > 2")
    page.select_option("select[name='minLevel']", "WARN")
    levels = "[...document.querySelectorAll('#lines td.lvl')].map(c => c.textContent)"
    until(page, f"{levels}.length > 0 && {levels}.every(l => ['WARN', 'ERROR'].includes(l))")
    assert "about to fail" in page.locator("#lines td.msg").all_inner_texts()
    assert "minLevel=WARN" in page.url
    href = page.locator("#lines tbody tr", has_text="about to fail").locator("td.id a").first.get_attribute("href")
    assert href == f"/execution.html?id={started['broken']}"
    assert _serious_violations(page) == []
    page.screenshot(path=str(OUTPUT / "web-logs.png"), full_page=True, animations="disabled")
    assert errors == []
    page.close()


def test_a_viewer_sees_the_actions_it_may_not_take_disabled(
    started: dict[str, str],
    server: httpx.Client,
    browser: Any,  # noqa: F811
) -> None:
    base = str(server.base_url).rstrip("/")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, base, "/executions?namespace=web.list", ("viewer", PASSWORD))
    until(page, "document.querySelectorAll('#executions tbody tr').length === 4")
    until(page, "document.querySelector('#me').textContent === 'viewer'")
    page.check("#select-all")
    assert page.locator("#kill").is_disabled() and page.locator("#restart").is_disabled()
    assert "runner role" in (page.locator("#restart").get_attribute("title") or "")
    # the server refuses it all the same
    refused = page.evaluate(
        "async (id) => (await fetch(`/api/v1/executions/${id}/restart`, {method: 'POST',"
        " headers: {'X-CSRF-Token': csrfToken()}})).status",
        started["broken"],
    )
    assert refused == 403
    page.goto(base + "/flows/web.list/batch")
    page.locator("#editor .cm-editor, #editor textarea").first.wait_for()
    until(page, "document.querySelector('#save').disabled && document.querySelector('#execute').disabled")
    assert "developer role" in (page.locator("#save").get_attribute("title") or "")
    page.goto(base + "/flows")
    page.locator("#flows tbody tr").first.wait_for()
    until(page, "document.querySelector('#new-flow').hidden")
    context.close()
