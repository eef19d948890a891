"""Flow and Webhook triggers end to end on the real servers: flows deployed with `conveyor flows deploy`;
the executor, worker, indexer and `conveyor scheduler` (which runs the Flow trigger loop,
`scheduler/flow_triggers.py`) as processes. A -> B -> C: B starts when A succeeds and C when B does, each
seeing the outputs of the one before (C sees B's output that came from A's), the link to the triggering
execution, and exactly one of each. A webhook with a JSON body whose fields reach a task's output; a wrong
key answers the unknown flow's 404."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from conveyor.api.settings import ServerSettings
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from tests.apiserver import ADMIN_AUTH
from tests.apiserver import serving as serving_api
from tests.e2e.conftest import Stack
from tests.integration.inprocess import newest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

NS = "chain.e2e"

A = f"""
id: a
namespace: {NS}
tasks:
  - id: make
    type: io.kestra.plugin.core.debug.Return
    format: "from A"
outputs:
  - id: value
    type: STRING
    value: "{{{{ outputs.make.value }}}}"
"""

B = f"""
id: b
namespace: {NS}
inputs:
  - id: upstream
    type: STRING
tasks:
  - id: add
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.outputs.value }}}}, then B (after {{{{ trigger.flowId }}}} {{{{ trigger.state }}}})"
outputs:
  - id: value
    type: STRING
    value: "{{{{ outputs.add.value }}}}"
  - id: upstream
    type: STRING
    value: "{{{{ inputs.upstream }}}}"
triggers:
  - id: after_a
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      upstream: "{{{{ trigger.executionId }}}}"
    labels:
      chain: b
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: {NS}
        flowId: a
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
"""

C = f"""
id: c
namespace: {NS}
tasks:
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.outputs.value }}}}, then C"
outputs:
  - id: value
    type: STRING
    value: "{{{{ outputs.last.value }}}}"
triggers:
  - id: after_b
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      flows:
        - namespace: {NS}
          flowId: b
          states: [SUCCESS]
"""

# Never fires: A does not fail.
D = f"""
id: d
namespace: {NS}
tasks:
  - id: never
    type: io.kestra.plugin.core.debug.Return
    format: x
triggers:
  - id: on_failure
    type: io.kestra.plugin.core.trigger.Flow
    states: [FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: chain
        comparison: PREFIX
"""


def test_a_chain_of_flow_triggers_passes_outputs_along(e2e_stack: Stack, tmp_path: Path) -> None:
    for name, source in (("b", B), ("c", C), ("d", D)):
        (tmp_path / f"{name}.yaml").write_text(source)
    deployed = e2e_stack.cli("flows", "deploy", str(tmp_path))
    assert deployed.returncode == 0, deployed.stderr
    (tmp_path / "run").mkdir()
    flow_a = tmp_path / "run" / "a.yaml"
    flow_a.write_text(A)

    # `conveyor scheduler` runs the Flow trigger loop; it reads `executions` from the start of its group, so
    # it needs no head start: A's end is read whenever the loop gets its partitions.
    e2e_stack.start("scheduler", "scheduler")
    try:
        first = e2e_stack.run_json(flow_a)
        assert first["state"]["current"] == "SUCCESS", first

        def ended_c(seen: dict[str, Execution]) -> bool:
            # a, b and c: each partition read may come in any order, so C's end alone proves nothing of A's
            return {e.flow_id for e in seen.values() if e.state.terminal} >= {"a", "b", "c"}

        executions = newest(
            e2e_stack.kafka, Topics.of(e2e_stack.kafka).executions, Execution.model_validate_json, ended_c, 120
        )
    finally:
        e2e_stack.stop("scheduler")
    by_flow: dict[str, list[Execution]] = {}
    for execution in executions.values():
        by_flow.setdefault(execution.flow_id, []).append(execution)
    seen = {flow: [(e.id, e.state.current.value) for e in found] for flow, found in by_flow.items()}
    assert sorted(by_flow) == ["a", "b", "c"], f"{seen}\n{e2e_stack.tail()}"
    assert all(len(found) == 1 for found in by_flow.values())  # and d (on FAILED) never started
    (a,), (b,), (c,) = by_flow["a"], by_flow["b"], by_flow["c"]
    assert a.id == first["id"]
    assert b.state.current.value == c.state.current.value == "SUCCESS"
    assert b.outputs == {"value": "from A, then B (after a SUCCESS)", "upstream": a.id}
    assert c.outputs == {"value": "from A, then B (after a SUCCESS), then C"}
    assert b.trigger is not None and b.trigger.id == "after_a" and b.trigger.variables["executionId"] == a.id
    assert c.trigger is not None and c.trigger.variables["executionId"] == b.id
    assert c.trigger.variables["flowId"] == "b" and c.trigger.variables["namespace"] == NS
    assert {"key": "chain", "value": "b"} in [label.to_dict() for label in b.labels]

    # B is found by its triggering execution, in the executions and the Task Runs views (as the reference's
    # triggerExecutionId): `--parent` on the CLI, `triggerExecutionId=` on the API
    def started_by_a() -> list[dict[str, object]]:
        done = e2e_stack.cli("executions", "--parent", a.id, "--output", "json")
        assert done.returncode == 0, done.stderr
        found = list(json.loads(done.stdout))
        return found if found and found[0]["state"]["current"] == "SUCCESS" else []

    assert [e["id"] for e in e2e_stack.poll(started_by_a, timeout=60)] == [b.id]

    def runs_started_by_a() -> list[dict[str, object]]:
        done = e2e_stack.cli("taskruns", "--parent", a.id, "--output", "json")
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))

    runs = e2e_stack.poll(runs_started_by_a, timeout=60)
    assert [(r["executionId"], r["taskId"]) for r in runs] == [(b.id, "add")]


HOOK = f"""
id: hook
namespace: {NS}
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.body.user.name }}}} x{{{{ trigger.body.times }}}} ({{{{ trigger.parameters.source[0] }}}})"
outputs:
  - id: greeting
    type: STRING
    value: "{{{{ outputs.greet.value }}}}"
triggers:
  - id: incoming
    type: io.kestra.plugin.core.trigger.Webhook
    key: s3cr3t-key
  - id: closed
    type: io.kestra.plugin.core.trigger.Webhook
    key: disabled-key
    disabled: true
"""


def test_a_webhook_with_a_json_body_reaches_a_task(e2e_stack: Stack) -> None:
    settings = ServerSettings(max_request_bytes=10_000)
    with serving_api(e2e_stack.kafka, e2e_stack.es, settings=settings) as url, httpx.Client(base_url=url) as http:
        deployed = http.post("/api/v1/flows", content=HOOK, headers={"content-type": "text/plain"}, auth=ADMIN_AUTH)
        assert deployed.status_code == 201, deployed.text
        hook = f"/api/v1/executions/webhook/{NS}/hook"
        answer = http.post(
            f"{hook}/s3cr3t-key?source=ci",
            json={"user": {"name": "Ada"}, "times": 3},
            headers={"Authorization": "Bearer not-for-the-index", "X-Request": "r1"},
        )
        assert answer.status_code == 200, answer.text
        started = answer.json()
        assert started["state"]["current"] == "CREATED" and started["flowId"] == "hook"

        wrong = http.post(f"{hook}/wrong-key", json={})
        unknown = http.post(f"/api/v1/executions/webhook/{NS}/nothing/s3cr3t-key", json={})
        disabled = http.post(f"{hook}/disabled-key", json={})
        assert wrong.status_code == unknown.status_code == disabled.status_code == 404
        assert wrong.json() == unknown.json() == disabled.json()
        too_big = http.post(f"{hook}/s3cr3t-key", content=b"x" * 20_000)
        assert too_big.status_code == 413
        as_text = http.get(f"{hook}/s3cr3t-key?source=get")
        assert as_text.status_code == 200

    # the audit trail records the starts, never the key (the secret part of the URL)
    audit_topic = Topics.of(e2e_stack.kafka).audit
    audited = [
        json.loads(m.value or b"{}")
        for m in read_partitions_to_end(e2e_stack.kafka, [(audit_topic, p) for p in range(e2e_stack.kafka.partitions)])
    ]
    starts = [r for r in audited if r.get("action") == "webhook" and r.get("status") == 200]
    assert len(starts) == 1 and starts[0]["path"].endswith("/hook/***")  # the POST (a GET is not audited)
    assert not any("s3cr3t-key" in json.dumps(r) for r in audited)

    def ended_hook(seen: dict[str, Execution]) -> bool:
        return sum(1 for e in seen.values() if e.flow_id == "hook" and e.state.terminal) == 2

    executions = newest(
        e2e_stack.kafka, Topics.of(e2e_stack.kafka).executions, Execution.model_validate_json, ended_hook, 120
    )
    first = executions[started["id"]]
    assert first.state.current.value == "SUCCESS", f"{first}\n{e2e_stack.tail()}"
    assert first.outputs == {"greeting": "Ada x3 (ci)"}
    assert first.trigger is not None and first.trigger.id == "incoming"
    headers = {name.lower(): values for name, values in first.trigger.variables["headers"].items()}
    assert headers["x-request"] == ["r1"] and "authorization" not in headers
    assert first.trigger.variables["parameters"] == {"source": ["ci"]}
    # the GET had no body: `trigger.body.user` is undefined, the task fails and says so
    second = executions[as_text.json()["id"]]
    assert second.state.current.value == "FAILED"


JOIN_NS = "join.e2e"


def upstream(flow_id: str) -> str:
    return f"""
id: {flow_id}
namespace: {JOIN_NS}
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: "{flow_id}"}}
"""


JOIN = f"""
id: join
namespace: {JOIN_NS}
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: "after {{{{ trigger.flowId }}}}"}}
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: both
      timeWindow: {{type: SLIDING_WINDOW, window: PT1H}}
      flows:
        - {{namespace: {JOIN_NS}, flowId: left}}
        - {{namespace: {JOIN_NS}, flowId: right}}
"""

# Its trigger matches every SUCCESS of its namespace, its own executions included: it must not loop.
LOOP = """
id: loop
namespace: self.e2e
tasks:
  - {id: t, type: io.kestra.plugin.core.debug.Return, format: x}
triggers:
  - id: again
    type: io.kestra.plugin.core.trigger.Flow
    states: [SUCCESS]
    conditions:
      - {type: io.kestra.plugin.core.condition.ExecutionNamespace, namespace: self.e2e}
"""


def test_preconditions_on_two_flows_fire_once_both_ended_and_a_flow_never_triggers_itself(
    e2e_stack: Stack, tmp_path: Path
) -> None:
    for name, source in (("join", JOIN), ("loop", LOOP)):
        (tmp_path / f"{name}.yaml").write_text(source)
    deployed = e2e_stack.cli("flows", "deploy", str(tmp_path))
    assert deployed.returncode == 0, deployed.stderr
    runs = tmp_path / "run"
    runs.mkdir()
    for name in ("left", "right"):
        (runs / f"{name}.yaml").write_text(upstream(name))
    (runs / "loop.yaml").write_text(LOOP)
    e2e_stack.start("scheduler", "scheduler")
    topic = Topics.of(e2e_stack.kafka).executions
    try:
        left = e2e_stack.run_json(runs / "left.yaml")
        assert left["state"]["current"] == "SUCCESS", left
        looped = e2e_stack.run_json(runs / "loop.yaml")
        assert looped["state"]["current"] == "SUCCESS", looped
        right = e2e_stack.run_json(runs / "right.yaml")
        assert right["state"]["current"] == "SUCCESS", right

        def joined(seen: dict[str, Execution]) -> bool:
            return any(e.flow_id == "join" and e.state.terminal for e in seen.values())

        executions = newest(e2e_stack.kafka, topic, Execution.model_validate_json, joined, 120)
        # Left alone again: with resetOnSuccess the window starts over, so nothing more fires.
        again = e2e_stack.run_json(runs / "left.yaml")
        assert again["state"]["current"] == "SUCCESS", again
        time.sleep(8)  # time for a wrong firing (of join, or of loop by itself) to show
        executions = newest(e2e_stack.kafka, topic, Execution.model_validate_json, lambda _: False, 8)
    finally:
        e2e_stack.stop("scheduler")
    joins = [e for e in executions.values() if e.flow_id == "join"]
    assert len(joins) == 1, f"{[(e.id, e.state.current.value) for e in joins]}\n{e2e_stack.tail()}"
    (join,) = joins
    assert join.state.current.value == "SUCCESS" and join.trigger is not None and join.trigger.id == "both"
    assert join.trigger.variables["executionId"] in {left["id"], right["id"]}
    loops = [e for e in executions.values() if e.flow_id == "loop"]
    assert [e.id for e in loops] == [looped["id"]], "a flow triggered itself"


COND_NS = "cond.e2e"
COND = "io.kestra.plugin.core.condition."

# An upstream flow whose flow output `rows` is its input; `fail: true` makes it fail.
UPSTREAM = f"""
id: up
namespace: {COND_NS}
inputs:
  - {{id: rows, type: INT}}
  - {{id: fail, type: BOOLEAN, defaults: false}}
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.rows }}}}"
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ inputs.fail }}}}"
outputs:
  - {{id: rows, type: INT, value: "{{{{ outputs.count.value }}}}"}}
"""


def listener(flow_id: str, conditions: str) -> str:
    return f"""
id: {flow_id}
namespace: {COND_NS}
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: "{{{{ trigger.executionId }}}}"}}
triggers:
  - id: on_up
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
{conditions}
"""


# Or over two ExecutionFlows plus an Expression on the outputs: only the big SUCCESS run
BIG = listener(
    "big",
    f"""      - type: {COND}Or
        conditions:
          - {{type: {COND}ExecutionFlow, namespace: {COND_NS}, flowId: up}}
          - {{type: {COND}ExecutionFlow, namespace: {COND_NS}, flowId: other}}
      - {{type: {COND}Expression, expression: "{{{{ trigger.outputs.rows > 10 }}}}"}}""",
)
# Not over ExecutionStatus: both SUCCESS runs, not the failed one
NOT_FAILED = listener(
    "not_failed",
    f"""      - {{type: {COND}ExecutionFlow, namespace: {COND_NS}, flowId: up}}
      - type: {COND}Not
        conditions:
          - {{type: {COND}ExecutionStatus, in: [FAILED]}}""",
)
# ExecutionOutputs: only the small run (the failed one has no outputs)
SMALL = listener(
    "small",
    f"""      - {{type: {COND}ExecutionFlow, namespace: {COND_NS}, flowId: up}}
      - {{type: {COND}ExecutionOutputs, expression: "{{{{ trigger.outputs.rows <= 10 }}}}"}}""",
)


def test_not_or_and_expressions_over_ended_executions_start_only_the_flows_they_hold_for(
    e2e_stack: Stack, tmp_path: Path
) -> None:
    for name, source in (("big", BIG), ("not_failed", NOT_FAILED), ("small", SMALL)):
        (tmp_path / f"{name}.yaml").write_text(source)
    deployed = e2e_stack.cli("flows", "deploy", str(tmp_path))
    assert deployed.returncode == 0, deployed.stderr
    (tmp_path / "run").mkdir()
    up = tmp_path / "run" / "up.yaml"
    up.write_text(UPSTREAM)
    topic = Topics.of(e2e_stack.kafka).executions
    e2e_stack.start("scheduler", "scheduler")
    try:
        small = e2e_stack.run_json(up, "--input", "rows=5")
        big = e2e_stack.run_json(up, "--input", "rows=50")
        failed = e2e_stack.run_json(up, "--input", "rows=70", "--input", "fail=true")
        assert [r["state"]["current"] for r in (small, big, failed)] == ["SUCCESS", "SUCCESS", "FAILED"]

        def all_started(seen: dict[str, Execution]) -> bool:
            done = [
                e.flow_id for e in seen.values() if e.state.terminal and e.namespace == COND_NS and e.flow_id != "up"
            ]
            return sorted(done) == ["big", "not_failed", "not_failed", "small"]

        newest(e2e_stack.kafka, topic, Execution.model_validate_json, all_started, 120)
        time.sleep(5)  # time for a wrong firing (for the failed run) to show
        executions = newest(e2e_stack.kafka, topic, Execution.model_validate_json, lambda _: False, 5)
    finally:
        e2e_stack.stop("scheduler")
    started: dict[str, list[str]] = {}
    for execution in executions.values():
        # (the module's other tests share the stack: only this namespace's executions)
        if execution.namespace == COND_NS and execution.flow_id != "up" and execution.trigger is not None:
            started.setdefault(execution.flow_id, []).append(execution.trigger.variables["executionId"])
    assert {flow: sorted(ids) for flow, ids in started.items()} == {
        "big": [big["id"]],
        "not_failed": sorted([small["id"], big["id"]]),
        "small": [small["id"]],
    }, e2e_stack.tail()
