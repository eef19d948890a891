"""The Task Runs page in a real browser: `conveyor server` as a process beside the e2e stack, flows deployed
and executions started through its API, run by the real executor and workers, indexed by the real indexer;
then headless Chromium (Debian's, driven by Playwright) loads the page, filters (by state, task, labels), sorts
and opens a task run; axe-core finds no serious or critical violation, the drawer closed or open.

Screenshots land in `test-output/` (gitignored): `web-taskruns.png` (filtered by state) and
`web-taskrun-drawer.png` (one task run's attempts, outputs and logs).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import Stack
from tests.e2e.web import OUTPUT, base_url, browser, deploy, open_page, server, until  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

WORKERS = 2

GREETINGS = """\
id: greetings
namespace: web.test
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["ada", "grace"]
    tasks:
      - id: say
        type: io.kestra.plugin.core.log.Log
        message: "hello {{ taskrun.value }}"
inputs:
  - id: who
    type: STRING
"""

FLAKY = """\
id: flaky
namespace: web.test
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "always failing"
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 2
"""

# 3 executions of greetings (greet, each, say x2) and 2 of flaky (fail, twice attempted)
EXPECTED = 3 * 4 + 2


@pytest.fixture(scope="module")
def executed(e2e_stack: Stack, server: httpx.Client) -> dict[str, Any]:  # noqa: F811
    """Deploy the two flows and start their executions through the API; wait until every task run ended."""
    deploy(server, GREETINGS, FLAKY, statuses=(201,))
    # ada's execution carries the label team:web (the page's labels box finds its 4 task runs)
    started = [
        server.post("/api/v1/executions/web.test/greetings", json={"who": w}, params=p)
        for w, p in (("ada", {"labels": "team:web"}), ("bob", {}), ("cy", {}))
    ]
    started += [server.post("/api/v1/executions/web.test/flaky") for _ in range(2)]
    assert all(s.status_code == 200 for s in started), [s.text for s in started]

    def all_ended() -> dict[str, Any] | None:
        page = server.get("/api/v1/taskruns/search", params={"namespace": "web.test", "size": 100}).json()
        if "results" not in page:  # e.g. 503 while the new index's shards start on a loaded machine
            return None
        ended = [r for r in page["results"] if r["state"].get("endDate")]
        return page if page["total"] == EXPECTED and len(ended) == EXPECTED else None

    page = e2e_stack.poll(all_ended, timeout=120)
    assert page, f"task runs not all indexed and ended\n{e2e_stack.tail()}"
    return dict(page)


def test_the_api_ran_and_indexed_the_executions(executed: dict[str, Any]) -> None:
    states: dict[str, int] = {}
    for run in executed["results"]:
        states[run["state"]["current"]] = states.get(run["state"]["current"], 0) + 1
    assert states == {"SUCCESS": 12, "FAILED": 2}
    fails = [r for r in executed["results"] if r["taskId"] == "fail"]
    assert [r["attemptsCount"] for r in fails] == [2, 2]


def test_the_page_filters_sorts_and_shows_a_task_run(
    executed: dict[str, Any],
    server: httpx.Client,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    OUTPUT.mkdir(exist_ok=True)
    # not signed in: the sign-in form, then back to the page asked for
    page, errors = open_page(browser, base_url(server), "/?namespace=web.test", {"width": 1440, "height": 1000})
    rows = page.locator("#taskruns tbody tr")
    rows.first.wait_for()
    assert rows.count() == EXPECTED
    assert page.locator("#total").inner_text() == str(EXPECTED)
    # the daily chart: today's bar, with a segment per state
    page.locator("#chart svg rect.bar").first.wait_for()
    assert set(page.locator("#chart svg rect.bar").evaluate_all("els => els.map(e => e.dataset.state)")) == {
        "SUCCESS",
        "FAILED",
    }

    # sort by task (ascending on the first click): "each" < "fail" < "greet" < "say"
    page.click("#taskruns th[data-sort='taskId']")
    page.wait_for_url("**sort=taskId%3Aasc**")
    until(page, "document.querySelector('#taskruns tbody tr td.task').textContent === 'each'")
    tasks = page.locator("#taskruns tbody td.task").all_inner_texts()
    assert tasks == sorted(tasks) and tasks.count("say") == 6

    # filter by state: only the two failed task runs remain
    page.click(".chip[data-state='FAILED']")
    until(page, "document.querySelectorAll('#taskruns tbody tr').length === 2")
    assert page.locator("#taskruns tbody tr").evaluate_all("rs => rs.map(r => r.dataset.state)") == ["FAILED"] * 2
    assert page.locator("#taskruns tbody td.task").all_inner_texts() == ["fail", "fail"]
    assert "state=FAILED" in page.url
    page.screenshot(path=str(OUTPUT / "web-taskruns.png"), full_page=True, animations="disabled")
    assert serious_violations(page) == []  # the drawer closed (out of the tab order and the accessibility tree)

    # a click on a row: its attempts (two, each with the failure), then a logging task run's logs
    page.locator("#taskruns tbody tr").first.click()
    page.locator("#drawer.open").wait_for()
    assert page.locator("#attempts tbody tr.attempt").count() == 2
    assert page.locator("#attempts tbody tr.error-row").first.inner_text().startswith("always failing")
    page.click("#drawer-close")
    page.click(".chip[data-state='FAILED']")
    page.fill("input[name='taskId']", "say")
    until(page, "document.querySelectorAll('#taskruns tbody tr').length === 6")
    page.locator("#taskruns tbody tr").first.click()
    page.locator("#logs .log").first.wait_for()
    value = page.locator("#drawer-meta").inner_text()
    assert "ada" in value or "grace" in value
    assert page.locator("#logs .log .msg").first.inner_text() in ("hello ada", "hello grace")
    assert page.locator("#attempts tbody tr.attempt").count() == 1
    page.screenshot(path=str(OUTPUT / "web-taskrun-drawer.png"), animations="disabled")
    assert page.evaluate("() => document.activeElement.id") == "drawer-close"  # the keyboard is in the drawer
    assert serious_violations(page) == []  # the drawer open
    # the labels box: only the task runs of the execution labelled team:web
    page.click("#drawer-close")
    page.fill("input[name='taskId']", "")
    page.fill("input[name='labels']", "team:web")
    until(page, "document.querySelectorAll('#taskruns tbody tr').length === 4")
    assert "labels=team%3Aweb" in page.url
    assert sorted(page.locator("#taskruns tbody td.task").all_inner_texts()) == ["each", "greet", "say", "say"]
    assert page.locator("#total").inner_text() == "4"
    assert errors == []
    assert (OUTPUT / "web-taskruns.png").stat().st_size > 10_000
    page.close()
