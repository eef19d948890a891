"""The Execution page in a real browser (Debian's Chromium through Playwright) on the e2e stack (executor,
workers, indexer and `conveyor server` as processes): an ended execution's header, Gantt (a retried task run
shows its two attempts, ForEach values labelled), topology coloured by state and logs (a log line opens its
task run), replay from a task run; then a running execution followed live (server-sent events) and killed
from its page; then a Pause resumed from the form of its onResume inputs (a FILE one among them, sent as
multipart/form-data and read by the next task), after a ForEachItem whose children
the header links. axe-core finds no serious or critical violation, at 1280x800 and at a phone's width.

Screenshots land in `test-output/`: `web-execution.png`, `web-execution-running.png`,
`web-execution-resume.png`,
`web-execution-metrics.png`. A task run's drawer lists the metrics of its attempts (a script's counter, the
worker's duration timer).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.axe import serious_violations as _serious_violations
from tests.e2e.conftest import Stack
from tests.e2e.web import OUTPUT, base_url, browser, deploy, open_page, server, until  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ENDED = """\
id: gantt
namespace: web.execution
labels:
  team: docs
inputs:
  - id: who
    type: STRING
    defaults: ada
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["red", "green", "blue"]
    tasks:
      - id: say
        type: io.kestra.plugin.core.log.Log
        message: "colour {{ taskrun.value }}"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "always failing"
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 2
"""

RUNNING = """\
id: sleeper
namespace: web.execution
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "going to sleep"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT120S
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: "woke up"
"""


METERED = """\
id: metered
namespace: web.execution
tasks:
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - 'echo ''::{"metrics": [{"name": "rows", "type": "counter", "value": 42, "tags": {"table": "users"}}]}::'''
"""


def _deploy_and_start(server: httpx.Client, source: str, flow_id: str) -> str:  # noqa: F811
    deploy(server, source)
    started = server.post(f"/api/v1/executions/web.execution/{flow_id}", json={})
    assert started.status_code == 200, started.text
    return str(started.json()["id"])


def _indexed(stack: Stack, server: httpx.Client, execution_id: str, states: set[str]) -> dict[str, Any]:  # noqa: F811
    def check() -> dict[str, Any] | None:
        answer = server.get(f"/api/v1/executions/{execution_id}")
        if answer.status_code != 200 or answer.json()["state"]["current"] not in states:
            return None
        # The execution's document and its task runs' are indexed apart: in the full run the SUCCESS header
        # was read before the last task run's document (taskRunList short of taskRunCount).
        if len(answer.json()["taskRunList"]) < int(answer.json().get("taskRunCount") or 0):
            return None
        return dict(answer.json())

    found = stack.poll(check, timeout=120)
    assert found, f"execution {execution_id} not {states}\n{stack.tail()}"
    return dict(found)


def _open(browser: Any, server: httpx.Client, execution_id: str) -> tuple[Any, list[str]]:  # noqa: F811
    """A page signed in on the execution's page, and the errors it throws."""
    return open_page(browser, base_url(server), f"/execution.html?id={execution_id}")


def test_an_ended_execution_and_a_replay_from_a_task_run(
    e2e_stack: Stack,
    server: httpx.Client,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    OUTPUT.mkdir(exist_ok=True)
    execution_id = _deploy_and_start(server, ENDED, "gantt")
    _indexed(e2e_stack, server, execution_id, {"FAILED"})
    # 1 greet + 1 each + 3 say + 1 fail, all ended; the logs index follows a moment later
    runs = f"/api/v1/taskruns/search?executionId={execution_id}"
    assert e2e_stack.poll(lambda: [r for r in server.get(runs).json()["results"] if r["state"].get("endDate")][5:], 60)
    assert e2e_stack.poll(lambda: len(server.get(f"/api/v1/logs/{execution_id}").json()) >= 3, timeout=60)

    page, errors = _open(browser, server, execution_id)
    page.locator("#exec-state .badge.FAILED").wait_for()
    assert page.locator("#exec-id").inner_text() == execution_id
    meta = page.locator("#exec-meta").inner_text()
    assert "web.execution" in meta and "gantt" in meta
    labels = page.locator("#exec-labels").inner_text().splitlines()
    assert labels == ["team: docs", f"system.correlationId: {execution_id}"]
    assert '"who": "ada"' in page.locator("#exec-inputs").inner_text()
    # what a FAILED execution allows: restart and replay, not kill, pause or resume
    visible = page.locator("#actions [data-action]:visible").evaluate_all("bs => bs.map(b => b.dataset.action)")
    assert visible == ["restart", "replay"]

    # the Gantt: every task run, the ForEach values labelled, the retried one with its two attempts
    until(page, "document.querySelectorAll('#gantt-rows .gantt-row:not(.loading)').length === 6")
    assert page.locator("#gantt-count").inner_text() == "6"
    assert sorted(page.locator("#gantt-rows .gantt-row .value").all_inner_texts()) == ["blue", "green", "red"]
    failed = page.locator("#gantt-rows .gantt-row[data-state='FAILED']")
    assert failed.locator(".gantt-bar").count() == 2
    assert failed.locator(".gantt-retries").inner_text() == "2 attempts"

    # the topology: a node per task, coloured by its task runs' state
    page.locator("#topology svg .topology-node").first.wait_for()
    states = page.locator("#topology .topology-node").evaluate_all(
        "ns => Object.fromEntries(ns.map(n => [n.dataset.task, n.dataset.state]))"
    )
    assert states == {"greet": "SUCCESS", "each": "SUCCESS", "say": "SUCCESS", "fail": "FAILED"}

    # the logs: a level filter, a search, and a line opens its task run
    page.locator("#exec-logs .log").first.wait_for()
    page.fill("#log-search", "green")
    until(page, "document.querySelectorAll('#exec-logs .log').length === 1")
    page.locator("#exec-logs .log").first.click()
    page.locator("#drawer.open").wait_for()
    assert "green" in page.locator("#drawer-meta").inner_text()
    assert page.locator("#logs .log .msg").inner_text().endswith("colour green")
    page.click("#drawer-close")
    page.fill("#log-search", "")
    found = _serious_violations(page)
    assert found == [], "\n".join(found)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(OUTPUT / "web-execution.png"), full_page=True, animations="disabled")

    # replay from the failed task run: a new execution, linked
    failed.locator(".gantt-label").click()
    page.locator("#drawer.open").wait_for()
    assert page.locator("#attempts tbody tr.attempt").count() == 2
    page.click("#replay-from")
    link = page.locator("#replay-link")
    link.wait_for()
    replay_id = link.inner_text()
    assert replay_id and replay_id != execution_id
    replayed = _indexed(e2e_stack, server, replay_id, {"FAILED"})
    assert replayed["originalId"] == execution_id

    page.set_viewport_size({"width": 390, "height": 844})
    page.click("#drawer-close")
    assert _serious_violations(page) == []
    assert errors == []
    page.close()


def test_a_running_execution_live_then_killed(
    e2e_stack: Stack,
    server: httpx.Client,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    execution_id = _deploy_and_start(server, RUNNING, "sleeper")
    _indexed(e2e_stack, server, execution_id, {"RUNNING"})
    page, errors = _open(browser, server, execution_id)
    page.locator("#exec-state .badge.RUNNING").wait_for()
    assert page.locator("#log-live").inner_text() == "live"
    visible = page.locator("#actions [data-action]:visible").evaluate_all("bs => bs.map(b => b.dataset.action)")
    assert visible == ["kill", "pause"]
    until(page, "!!document.querySelector('#gantt-rows .gantt-row[data-state=\"RUNNING\"]')")
    page.locator("#exec-logs .log", has_text="going to sleep").wait_for()
    page.screenshot(path=str(OUTPUT / "web-execution-running.png"), full_page=True, animations="disabled")

    # Kill asks to confirm; then the page follows the kill through the pushed changes
    kill = page.locator("#actions [data-action='kill']")
    kill.click()
    assert kill.inner_text() == "Confirm kill?"
    kill.click()
    page.locator("#action-result", has_text="kill requested").wait_for()
    page.locator("#exec-state .badge.KILLED").wait_for(timeout=60_000)
    until(page, "!!document.querySelector('#gantt-rows .gantt-row[data-state=\"KILLED\"]')", timeout=60)
    visible = page.locator("#actions [data-action]:visible").evaluate_all("bs => bs.map(b => b.dataset.action)")
    assert visible == ["restart", "replay"]
    assert errors == []
    page.close()


APPROVAL = """\
id: approval
namespace: web.execution
inputs: [{id: file, type: FILE}]
tasks:
  - {id: each, type: io.kestra.plugin.core.flow.ForEachItem, items: "{{ inputs.file }}", batch: {rows: 1},
     namespace: web.execution, flowId: item, wait: true, inputs: {items: "{{ taskrun.items }}"}}
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume: [{id: reason, type: STRING, description: why it may go on},
               {id: approved, type: BOOLEAN, defaults: false},
               {id: evidence, type: FILE, description: the signed form}]
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: >-
      {{ outputs.wait.onResume.approved }} {{ outputs.wait.onResume.reason }}
      {{ read(outputs.wait.onResume.evidence) | trim }}
"""
ITEM = """\
id: item
namespace: web.execution
inputs: [{id: items, type: STRING}]
tasks: [{id: got, type: io.kestra.plugin.core.debug.Return, format: "{{ inputs.items }}"}]
"""


def test_a_pause_resumed_with_its_onresume_form_and_the_foreachitem_children_linked(
    e2e_stack: Stack,
    server: httpx.Client,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    deploy(server, ITEM, APPROVAL)
    started = server.post(
        "/api/v1/executions/web.execution/approval", files={"file": ("items.txt", b"red\ngreen\nblue\n")}
    )
    assert started.status_code == 200, started.text
    execution_id = str(started.json()["id"])
    _indexed(e2e_stack, server, execution_id, {"PAUSED"})
    children = f"/api/v1/executions/search?triggerExecutionId={execution_id}"
    assert e2e_stack.poll(lambda: server.get(children).json()["total"] == 3, timeout=60)

    page, errors = _open(browser, server, execution_id)
    page.locator("#exec-state .badge.PAUSED").wait_for()
    # the three ForEachItem children: a link to the Executions page filtered on this execution as their parent
    link = page.locator("#children-link")
    link.wait_for()
    assert link.inner_text() == "all 3"
    # Resume opens the form of the paused task's onResume inputs; a required one left empty is not sent
    page.locator("#topology .topology-node[data-task='wait'][data-state='PAUSED']").wait_for()
    page.click("#actions [data-action='resume']")
    page.locator("#resume-dialog:not([hidden])").wait_for()
    labels = page.locator("#resume-inputs label > span:first-child").all_text_contents()
    assert labels == ["reason (string) *", "approved (boolean)", "evidence (file) *"]
    assert _serious_violations(page) == []
    page.screenshot(path=str(OUTPUT / "web-execution-resume.png"), full_page=False, animations="disabled")
    page.fill("#resume-inputs input[name='reason']", "looks good")
    page.check("#resume-inputs input[name='approved']")
    # the FILE input's file field: the form goes as multipart/form-data, the file stored under the execution
    evidence = {"name": "evidence.txt", "mimeType": "text/plain", "buffer": b"signed by ada\n"}
    page.set_input_files("#resume-inputs input[name='evidence']", files=[evidence])
    page.click("#resume-form button[type=submit]")
    page.locator("#resume-dialog[hidden]").wait_for(state="attached")
    page.locator("#exec-state .badge.SUCCESS").wait_for(timeout=60_000)
    ended = _indexed(e2e_stack, server, execution_id, {"SUCCESS"})
    (after,) = [r for r in ended["taskRunList"] if r["taskId"] == "after"]
    assert after["outputs"]["value"] == "true looks good signed by ada"
    (wait,) = [r for r in ended["taskRunList"] if r["taskId"] == "wait"]
    prefix = f"kestra:///web/execution/approval/executions/{execution_id}/inputs/evidence/"
    assert wait["outputs"]["onResume"]["evidence"] == prefix + "evidence.txt"

    # the link lists the children on the Executions page
    page.click("#children-link")
    page.wait_for_url(f"**/executions?triggerExecutionId={execution_id}")
    until(page, "document.querySelectorAll('#executions tbody tr').length === 3")
    assert page.locator("#filters input[name='triggerExecutionId']").input_value() == execution_id
    assert errors == []
    page.close()


def test_a_task_runs_metrics_in_its_drawer(
    e2e_stack: Stack,
    server: httpx.Client,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    execution_id = _deploy_and_start(server, METERED, "metered")
    _indexed(e2e_stack, server, execution_id, {"SUCCESS"})
    runs = f"/api/v1/taskruns/search?executionId={execution_id}"
    assert e2e_stack.poll(lambda: [r for r in server.get(runs).json()["results"] if r["state"].get("endDate")], 60)

    page, errors = _open(browser, server, execution_id)
    page.locator("#gantt-rows .gantt-row[data-state='SUCCESS'] .gantt-label").click()
    page.locator("#drawer.open").wait_for()
    rows = page.locator("#metrics tbody tr.metric").evaluate_all(
        "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
    )
    # the script's counter, with its tag, then the worker's timer of the attempt
    assert rows[0] == ["1", "rows", "counter", "42", "table=users"]
    assert [r[1:3] for r in rows[1:]] == [["duration", "timer"]]
    assert rows[1][3].endswith((" ms", " s"))
    page.screenshot(path=str(OUTPUT / "web-execution-metrics.png"), animations="disabled")
    found = _serious_violations(page)
    assert found == [], "\n".join(found)
    assert errors == []
    page.close()
