"""Authentication and authorization of `conveyor server` on the real Kafka and Elasticsearch, over HTTP.

The matrix: every endpoint x role (none, viewer, runner, developer, admin) x namespace (`team.a`, the users'
own, and `team.b`, another), each answered as allowed (any status past authorization: 2xx, or 409 for a kill
of an ended execution) or refused (401 without credentials, 403 without the role, 404 where an unreadable
thing answers like an unknown one). Then: search and daily statistics of a `team.a` viewer exclude `team.b`
inside the Elasticsearch query (results, totals, chart, cursor); tokens created, scoped, used, listed,
revoked and expired (on a second server too); the page's sign-in, session, CSRF and sign-out; failed
sign-ins limited (429 with Retry-After) and logged without the secret; anonymous access only when set.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from elasticsearch.helpers import bulk
from pydantic import SecretStr

from conveyor.api.settings import AuthSettings
from conveyor.api.tokenstore import digest
from conveyor.common.auth import ApiToken, Binding, Role
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.events import FLOW_HEADER, LogEntry, TaskRunChange
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution, ExecutionTrigger, TaskRun
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.state import State, StateHistory, StateType
from conveyor.common.tasks.base import LogLevel
from conveyor.indexer import documents, templates
from tests.apiserver import ADMIN_HEADERS, PASSWORD, auth_with, basic, serving, user

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DAY = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SESSION_SECRET = SecretStr("s" * 40)
NAMESPACES = ("team.a", "team.b")
ROLES = ("none", "viewer", "runner", "developer", "admin")
USERS = {
    "viewer": user("viewer@team.a"),
    "runner": user("runner@team.a"),
    "developer": user("developer@team.a"),
    "boss": user("admin@"),
    # team.ab is not under team.a
    "ab": user("developer@team.ab"),
    # roles from a group
    "grouped": user(groups=("ops",)),
}


def flow(namespace: str, flow_id: str = "hello") -> str:
    return f"""id: {flow_id}
namespace: {namespace}
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: hi
"""


def state(final: StateType) -> State:
    steps = [StateType.CREATED, StateType.RUNNING, final]
    return State(
        current=final, histories=[StateHistory(state=s, date=DAY + timedelta(seconds=i)) for i, s in enumerate(steps)]
    )


def task_run(namespace: str, n: int) -> TaskRun:
    return TaskRun(
        id=f"tr-{namespace}-{n}",
        execution_id=f"ex-{namespace}",
        namespace=namespace,
        flow_id="hello",
        task_id=f"t{n}",
        state=state(StateType.SUCCESS),
    )


def headers_of(role: str) -> dict[str, str]:
    return {} if role == "none" else basic("boss" if role == "admin" else role)


@dataclass
class World:
    kafka: KafkaSettings
    es: ElasticsearchSettings
    base: str
    http: httpx.Client


def _index(es: ElasticsearchSettings) -> None:
    """Per namespace: an execution with 3 task runs (team.a) or 5 (team.b), and one log line."""
    client = elasticsearch_client(es)
    templates.install(client, es.index_prefix)
    actions = []
    for offset, (namespace, count) in enumerate((("team.a", 3), ("team.b", 5))):
        runs = [task_run(namespace, n) for n in range(count)]
        actions += [
            documents.taskrun_action(es.index_prefix, TaskRunChange(revision=1, task_run=r)).bulk() for r in runs
        ]
        execution = Execution(
            id=f"ex-{namespace}", namespace=namespace, flow_id="hello", state=state(StateType.SUCCESS), revision=3
        )
        actions.append(documents.execution_action(es.index_prefix, execution).bulk())
        # and one execution a Schedule trigger `nightly` started (the executions search filters by trigger)
        scheduled = execution.model_copy(update={"id": f"ex-{namespace}-nightly", "trigger": ExecutionTrigger(
            id="nightly", type="io.kestra.plugin.core.trigger.Schedule", date=DAY)})  # fmt: skip
        actions.append(documents.execution_action(es.index_prefix, scheduled).bulk())
        line = LogEntry(
            namespace=namespace,
            flow_id="hello",
            execution_id=f"ex-{namespace}",
            task_id="t0",
            task_run_id=f"tr-{namespace}-0",
            level=LogLevel.INFO,
            message=f"a line of {namespace}",
            timestamp=DAY,
        )
        actions.append(documents.log_action(es.index_prefix, line, "logs", 0, offset).bulk())
    bulk(client, actions, refresh=True)
    client.close()


def _executions_on_kafka(kafka: KafkaSettings) -> None:
    """The ended executions kill and restart look up (on the `executions` topic): both answer 409 once allowed."""
    producer = Producer(kafka)
    for namespace in NAMESPACES:
        execution = Execution(
            id=f"ex-{namespace}", namespace=namespace, flow_id="hello", state=state(StateType.SUCCESS), revision=3
        )
        producer.send(Topics.of(kafka).executions, execution.id, execution.to_json(), [(FLOW_HEADER, b"{}")])
        for role in ROLES:  # one to delete per caller (a deletion by one must not answer 404 to the next)
            for kind in ("del", "bulk"):
                doomed = execution.model_copy(update={"id": f"ex-{namespace}-{kind}-{role}"})
                producer.send(Topics.of(kafka).executions, doomed.id, doomed.to_json(), [(FLOW_HEADER, b"{}")])
    producer.flush(10)


@pytest.fixture(scope="module")
def world(kafka_bootstrap: str, elasticsearch_url: str) -> Iterator[World]:
    prefix = f"t-sec-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=2)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    _index(es)
    _executions_on_kafka(kafka)
    auth = auth_with(USERS).model_copy(
        update={"group_roles": {"ops": [Binding(role=Role.RUNNER, namespace="team")]}, "session_secret": SESSION_SECRET}
    )
    with serving(kafka, es, auth=auth) as base, httpx.Client(base_url=base, timeout=60) as http:
        for namespace in NAMESPACES:
            deployed = http.post(
                "/api/v1/flows", content=flow(namespace), headers={**ADMIN_HEADERS, "content-type": "text/plain"}
            )
            assert deployed.status_code in (200, 201), deployed.text
        yield World(kafka, es, base, http)


# ---- the matrix

RANK = {"none": -1, "viewer": 0, "runner": 1, "developer": 2, "admin": 3}
# endpoint: (method, path template, body, least role, what an identity without it on the namespace gets)
ENDPOINTS: dict[str, tuple[str, str, Any, str, int]] = {
    "search": ("GET", "/api/v1/taskruns/search?namespace={ns}", None, "viewer", 200),
    "executions": ("GET", "/api/v1/executions/search?namespace={ns}", None, "viewer", 200),
    "daily": ("POST", "/api/v1/stats/taskruns/daily", {"namespace": "{ns}", "startDate": "2024-05-01"}, "viewer", 200),
    "execution": ("GET", "/api/v1/executions/ex-{ns}", None, "viewer", 404),
    "logs": ("GET", "/api/v1/logs/ex-{ns}", None, "viewer", 200),
    "log-search": ("GET", "/api/v1/logs/search?namespace={ns}", None, "viewer", 200),
    # ex-{ns} has ended: the streams open (event: ready) and end at once
    "follow-logs": ("GET", "/api/v1/logs/ex-{ns}/follow", None, "viewer", 404),
    "follow": ("GET", "/api/v1/executions/ex-{ns}/follow", None, "viewer", 404),
    "taskruns-at": ("GET", "/api/v1/executions/ex-{ns}/taskruns?offset=1&size=2", None, "viewer", 404),
    "taskrun-counts": ("GET", "/api/v1/executions/ex-{ns}/taskruns/counts", None, "viewer", 404),
    "flow": ("GET", "/api/v1/flows/{ns}/hello", None, "viewer", 404),
    "start": ("POST", "/api/v1/executions/{ns}/hello", {}, "runner", 403),
    "kill": ("POST", "/api/v1/executions/ex-{ns}/kill", None, "runner", 403),
    "restart": ("POST", "/api/v1/executions/ex-{ns}/restart", None, "runner", 403),
    "pause": ("POST", "/api/v1/executions/ex-{ns}/pause", None, "runner", 403),
    "resume": ("POST", "/api/v1/executions/ex-{ns}/resume", {}, "runner", 403),
    "replay": ("POST", "/api/v1/executions/ex-{ns}/replay", None, "runner", 403),
    "taskrun-state": (
        "POST",
        "/api/v1/executions/ex-{ns}/state",
        {"taskRunId": "nope", "state": "SUCCESS"},
        "runner",
        403,
    ),
    "change-status": ("POST", "/api/v1/executions/ex-{ns}/change-status?status=FAILED", None, "runner", 403),
    "unqueue": ("POST", "/api/v1/executions/ex-{ns}/unqueue", None, "runner", 403),
    "unqueue-bulk": ("POST", "/api/v1/executions/unqueue/by-ids", ["ex-{ns}"], "runner", 403),
    # matches nothing (no flow "nothere"): the role check comes first, then nothing to unqueue
    "unqueue-query": ("POST", "/api/v1/executions/unqueue/by-query?namespace={ns}&flowId=nothere", None, "runner", 403),
    "deploy": ("POST", "/api/v1/flows", "yaml", "developer", 403),
    "delete": ("DELETE", "/api/v1/executions/ex-{ns}-del-{role}", None, "developer", 403),
    "delete-bulk": ("DELETE", "/api/v1/executions/by-ids", ["ex-{ns}-bulk-{role}"], "developer", 403),
    # matches nothing (no flow "nothere"): the role check comes first, then an empty deletion
    "delete-query": ("DELETE", "/api/v1/executions/by-query?namespace={ns}&flowId=nothere", None, "developer", 403),
    "audit": ("GET", "/api/v1/audit?namespace={ns}", None, "admin", 403),
    "tokens": ("GET", "/api/v1/tokens", None, "viewer", 200),
    "me": ("GET", "/api/v1/me", None, "viewer", 200),
    "triggers": ("GET", "/api/v1/triggers?namespace={ns}", None, "viewer", 200),
    "disable": ("POST", "/api/v1/triggers/{ns}/hello/none/disable", None, "developer", 403),
    "flows": ("GET", "/api/v1/flows?namespace={ns}", None, "viewer", 200),
    "validate": ("POST", "/api/v1/flows/validate", "yaml", "viewer", 200),  # stores nothing: any signed-in user
    "undeploy": ("DELETE", "/api/v1/flows/{ns}/nothere", None, "developer", 403),
    "kv": ("GET", "/api/v1/namespaces/{ns}/kv", None, "viewer", 403),
    "nsfiles": ("GET", "/api/v1/namespaces/{ns}/files/directory", None, "viewer", 403),
    "nsfile": ("GET", "/api/v1/namespaces/{ns}/files?path=nothere.txt", None, "viewer", 403),
    "nsfile-delete": ("DELETE", "/api/v1/namespaces/{ns}/files?path=nothere.txt", None, "developer", 403),
    "file": (
        "GET",
        "/api/v1/executions/ex-{ns}/file?path=kestra:///{nsdir}/hello/executions/ex-{ns}/f.txt",
        None,
        "viewer",
        404,
    ),
}
# Past authorization: what the request itself answers.
# "hello" has no trigger, "nothere" is no flow, ex-{ns} has no file f.txt
# ex-{ns} ended SUCCESS: not RUNNING (pause), not PAUSED (resume), has no task run "nope"; replay and
# change-status are sent (202)
# ex-{ns} is not QUEUED: unqueue (one, or by ids) is refused 409; by query it matches nothing (202, count 0)
STEERING = {
    "pause": 409,
    "resume": 409,
    "replay": 202,
    "taskrun-state": 404,
    "change-status": 202,
    "unqueue": 409,
    "unqueue-bulk": 409,
}
ALLOWED = {
    **STEERING,
    "kill": 409,
    "restart": 409,
    "delete": 204,
    "deploy": 201,
    "start": 200,
    "disable": 404,
    "undeploy": 404,
    "file": 404,
    "nsfile": 404,
    "nsfile-delete": 404,
    "unqueue-query": 202,
}


def expected(endpoint: str, role: str, namespace: str) -> int:
    _, _, _, least, refused = ENDPOINTS[endpoint]
    if role == "none":
        return 401
    holds = role == "admin" or (namespace == "team.a" and RANK[role] >= RANK[least])
    if holds:
        return ALLOWED.get(endpoint, 200)
    if endpoint in ("kill", "restart", "disable", "undeploy", "delete", *STEERING) and namespace == "team.b":
        return 404  # not readable: as unknown
    if endpoint in ("delete-bulk", "unqueue-bulk") and namespace == "team.b":
        return 404  # not readable: named "not found" among the invalid ones
    if RANK[role] >= RANK[least] and endpoint in ("tokens", "me"):
        return 200
    steering = (
        "start",
        "kill",
        "restart",
        "deploy",
        "audit",
        "disable",
        "undeploy",
        "nsfile-delete",
        "delete",
        "delete-bulk",
        "delete-query",
        "unqueue-query",
        *STEERING,
    )
    return refused if namespace == "team.b" or endpoint in steering else 200


def call(world: World, endpoint: str, role: str, namespace: str) -> httpx.Response:
    method, template, body, _, _ = ENDPOINTS[endpoint]
    headers = headers_of(role)
    path = template.format(ns=namespace, nsdir=namespace.replace(".", "/"), role=role)
    if body == "yaml":
        source = flow(namespace, f"f{uuid.uuid4().hex[:8]}")
        return world.http.request(method, path, content=source, headers={**headers, "content-type": "text/plain"})
    if isinstance(body, dict):
        body = {k: (v.format(ns=namespace) if isinstance(v, str) else v) for k, v in body.items()}
        return world.http.request(method, path, json=body, headers=headers)
    if isinstance(body, list):
        return world.http.request(method, path, json=[v.format(ns=namespace, role=role) for v in body], headers=headers)
    return world.http.request(method, path, headers=headers)


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_every_endpoint_by_role_and_namespace(world: World, endpoint: str, role: str, namespace: str) -> None:
    answer = call(world, endpoint, role, namespace)
    assert answer.status_code == expected(endpoint, role, namespace), (endpoint, role, namespace, answer.text)
    if answer.status_code == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")
    if endpoint in ("search", "executions", "logs", "log-search") and answer.status_code == 200:
        found = answer.json()
        items = found["results"] if endpoint in ("search", "executions", "log-search") else found
        readable = role == "admin" or namespace == "team.a"
        assert bool(items) == readable, (endpoint, role, namespace, found)
        assert all(item["namespace"] == namespace for item in items)


def test_the_executions_search_filters_by_trigger_within_the_readable_namespaces(world: World) -> None:
    search = "/api/v1/executions/search"
    everything = world.http.get(search, headers=ADMIN_HEADERS).json()
    assert everything["total"] == 4
    by_trigger = world.http.get(search, params={"triggerId": "nightly"}, headers=ADMIN_HEADERS).json()
    assert sorted(e["id"] for e in by_trigger["results"]) == ["ex-team.a-nightly", "ex-team.b-nightly"]
    own = world.http.get(search, params={"triggerId": "nightly"}, headers=headers_of("viewer")).json()
    assert [e["id"] for e in own["results"]] == ["ex-team.a-nightly"]
    bad = world.http.get(search, params={"state": "NOPE"}, headers=ADMIN_HEADERS)
    assert bad.status_code == 422 and "state" in bad.text


def test_namespace_prefixes_stop_at_a_dot_and_groups_give_roles(world: World) -> None:
    # developer@team.ab holds nothing on team.a
    assert world.http.get("/api/v1/flows/team.a/hello", headers=basic("ab")).status_code == 404
    deploy = world.http.post("/api/v1/flows", content=flow("team.a", "nope"), headers=basic("ab"))
    assert deploy.status_code == 403 and "team.a" in deploy.json()["message"]
    # "ops" gives runner@team: team.a and team.b
    me = world.http.get("/api/v1/me", headers=basic("grouped")).json()
    assert me["groups"] == ["ops"] and me["bindings"] == [{"role": "runner", "namespace": "team"}]
    for namespace in NAMESPACES:
        assert world.http.post(f"/api/v1/executions/ex-{namespace}/kill", headers=basic("grouped")).status_code == 409


# ---- filtering inside Elasticsearch


def test_a_team_a_viewer_sees_nothing_of_team_b_in_totals_chart_or_cursor(world: World) -> None:
    viewer, admin = basic("viewer"), ADMIN_HEADERS
    everything = world.http.get("/api/v1/taskruns/search", params={"size": 2}, headers=admin).json()
    assert everything["total"] == 8
    own = world.http.get("/api/v1/taskruns/search", params={"size": 2}, headers=viewer).json()
    assert own["total"] == 3 and {r["namespace"] for r in own["results"]} == {"team.a"}
    seen = [r["id"] for r in own["results"]]
    cursor = own["next"]
    while cursor:  # the cursor pages on within team.a only
        page = world.http.get("/api/v1/taskruns/search", params={"size": 2, "after": cursor}, headers=viewer).json()
        seen += [r["id"] for r in page["results"]]
        cursor = page["next"]
    assert sorted(seen) == [f"tr-team.a-{n}" for n in range(3)]
    # free text naming team.b finds nothing either
    assert world.http.get("/api/v1/taskruns/search", params={"q": "team.b"}, headers=viewer).json()["total"] == 0
    window = {"startDate": "2024-05-01", "endDate": "2024-05-01"}
    chart = world.http.post("/api/v1/stats/taskruns/daily", json=window, headers=viewer).json()
    assert chart[0]["counts"]["SUCCESS"] == 3 and chart[0]["duration"]["count"] == 3
    all_days = world.http.post("/api/v1/stats/taskruns/daily", json=window, headers=admin).json()
    assert all_days[0]["counts"]["SUCCESS"] == 8


# ---- tokens


def test_tokens_are_shown_once_scoped_listed_revoked_and_expire(world: World) -> None:
    developer = basic("developer")
    made = world.http.post(
        "/api/v1/tokens",
        json={"name": "ci", "bindings": [{"role": "viewer", "namespace": "team.a"}]},
        headers=developer,
    )
    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["id"]
    bearer = {"Authorization": f"Bearer {token}"}
    me = world.http.get("/api/v1/me", headers=bearer).json()
    assert me == {
        "name": "developer",
        "kind": "token",
        "bindings": [{"role": "viewer", "namespace": "team.a"}],
        "groups": [],
        "tokenId": token_id,
    }
    # the token's scope, not its owner's: a viewer may not deploy
    assert world.http.post("/api/v1/flows", content=flow("team.a", "tok"), headers=bearer).status_code == 403
    # never more than the creator holds
    wider = world.http.post(
        "/api/v1/tokens", json={"name": "x", "bindings": [{"role": "admin", "namespace": ""}]}, headers=developer
    )
    assert wider.status_code == 403 and "admin@*" in wider.json()["message"]
    other = world.http.post("/api/v1/tokens", json={"name": "x", "owner": "viewer"}, headers=developer)
    assert other.status_code == 403
    # listed without the token or its hash; a viewer sees none of the developer's; the admin sees all
    listed = world.http.get("/api/v1/tokens", headers=developer).json()
    assert [t["id"] for t in listed] == [token_id] and token not in str(listed) and "sha256" not in str(listed)
    assert world.http.get("/api/v1/tokens", headers=basic("viewer")).json() == []
    assert token_id in [t["id"] for t in world.http.get("/api/v1/tokens", headers=ADMIN_HEADERS).json()]
    assert world.http.delete(f"/api/v1/tokens/{token_id}", headers=basic("viewer")).status_code == 404
    # a second server agrees: it reads the same topic
    with serving(world.kafka, world.es, auth=auth_with(USERS)) as other_server:
        assert httpx.get(other_server + "/api/v1/me", headers=bearer).status_code == 200
        assert world.http.delete(f"/api/v1/tokens/{token_id}", headers=developer).status_code == 204
        assert httpx.get(other_server + "/api/v1/me", headers=bearer).status_code == 401
    assert world.http.get("/api/v1/me", headers=bearer).status_code == 401
    # a wrong secret for a real id, and an expired token, are refused too
    again = world.http.post("/api/v1/tokens", json={"name": "short"}, headers=developer).json()
    forged = again["token"][:-4] + ("AAAA" if not again["token"].endswith("AAAA") else "BBBB")
    assert world.http.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    # a token holds no more than its owner holds now: on a server where developer became a viewer
    full = world.http.post("/api/v1/tokens", json={"name": "full"}, headers=developer).json()
    assert full["bindings"] == [{"role": "developer", "namespace": "team.a"}]
    demoted = auth_with({**USERS, "developer": user("viewer@team.a")})
    with serving(world.kafka, world.es, auth=demoted) as third:
        me = httpx.get(third + "/api/v1/me", headers={"Authorization": f"Bearer {full['token']}"}).json()
        assert me["name"] == "developer" and me["bindings"] == []
    expired = _expired_token(world.kafka)
    assert world.http.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def _expired_token(kafka: KafkaSettings) -> str:
    token_id = uuid.uuid4().hex
    token = f"cvy_{token_id}_{'s' * 43}"
    now = datetime.now(UTC)
    record = ApiToken(
        id=token_id,
        name="old",
        owner="viewer",
        bindings=(Binding(role=Role.VIEWER, namespace="team.a"),),
        sha256=digest(token),
        created_at=now - timedelta(days=2),
        expires_at=now - timedelta(seconds=1),
        created_by="viewer",
    )
    producer = Producer(kafka)
    producer.send(Topics.of(kafka).auth_tokens, token_id, record.to_json())
    producer.flush(10)
    return token


# ---- the page: sign-in, session, CSRF, sign-out


def test_the_page_signs_in_with_a_session_and_csrf_cookie_and_signs_out(world: World) -> None:
    with httpx.Client(base_url=world.base, timeout=30) as browser:
        page = browser.get("/")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        form = browser.get("/login")
        assert form.status_code == 200 and 'action="/api/v1/auth/login"' in form.text and "<script>" not in form.text
        assert "__OIDC__" not in form.text
        assert browser.post("/api/v1/auth/login", json={"user": "runner", "password": "wrong"}).status_code == 401
        signed = browser.post("/api/v1/auth/login", json={"user": "runner", "password": PASSWORD})
        assert signed.status_code == 200 and signed.json()["name"] == "runner"
        cookies = signed.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("conveyor_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session and PASSWORD not in session
        assert any(c.startswith("conveyor_csrf=") and "HttpOnly" not in c for c in cookies)
        assert browser.get("/").status_code == 200
        assert browser.get("/api/v1/me").json()["bindings"] == [{"role": "runner", "namespace": "team.a"}]
        # an unsafe request of the session needs the CSRF header
        assert browser.post("/api/v1/executions/team.a/hello", json={}).status_code == 403
        csrf = {"X-CSRF-Token": browser.cookies["conveyor_csrf"]}
        assert browser.post("/api/v1/executions/team.a/hello", json={}, headers=csrf).status_code == 200
        assert browser.post("/api/v1/auth/logout", headers=csrf).status_code == 204
        assert "conveyor_session" not in browser.cookies
        assert browser.get("/api/v1/me").status_code == 401
    # the sign-in form's own post (no script): a redirect to a local page only
    with httpx.Client(base_url=world.base, timeout=30) as browser:
        posted = browser.post(
            "/api/v1/auth/login", data={"user": "viewer", "password": PASSWORD, "next": "https://evil.example/"}
        )
        assert posted.status_code == 303 and posted.headers["location"] == "/"


# ---- failed sign-ins


def test_failed_sign_ins_are_limited_per_user_and_per_address_and_logged_without_the_secret(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    limited = auth_with(USERS, max_failures=3)
    with serving(world.kafka, world.es, auth=limited) as base, caplog.at_level(logging.WARNING):
        wrong = basic("viewer", "not-the-password-42")
        answers = [httpx.get(base + "/api/v1/me", headers=wrong).status_code for _ in range(4)]
        assert answers == [401, 401, 401, 429]
        blocked = httpx.get(base + "/api/v1/me", headers=basic("viewer"))  # the right password waits too
        assert blocked.status_code == 429 and 0 < int(blocked.headers["retry-after"]) <= 300
        login = httpx.post(base + "/api/v1/auth/login", json={"user": "viewer", "password": PASSWORD})
        assert login.status_code == 429
        # bad tokens count against the address: after 3 more failures from 127.0.0.1 everyone here waits
        for _ in range(3):
            httpx.get(base + "/api/v1/me", headers={"Authorization": "Bearer cvy_nope_secret-token-value"})
        assert httpx.get(base + "/api/v1/me", headers=basic("runner")).status_code == 429
    text = caplog.text
    assert "failed sign-in" in text and "'viewer'" in text and "127.0.0.1" in text
    assert "not-the-password-42" not in text and "secret-token-value" not in text and PASSWORD not in text


def test_anonymous_access_only_when_configured(world: World) -> None:
    assert world.http.get("/api/v1/taskruns/search").status_code == 401
    anonymous = AuthSettings.model_validate({"users": {}, "anonymous_role": "viewer"})
    with serving(world.kafka, world.es, auth=anonymous) as base:
        found = httpx.get(base + "/api/v1/taskruns/search").json()
        assert found["total"] == 8
        assert httpx.get(base + "/api/v1/me").json()["kind"] == "anonymous"
        assert httpx.post(base + "/api/v1/executions/team.a/hello", json={}).status_code == 403
        assert httpx.get(base + "/").status_code == 200


def test_the_openapi_document_declares_the_security(world: World) -> None:
    document = world.http.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["basic"]["scheme"] == "basic" and schemes["bearer"]["scheme"] == "bearer"
    assert schemes["session"] == {**schemes["session"], "in": "cookie", "name": "conveyor_session"}
    search = document["paths"]["/api/v1/taskruns/search"]["get"]
    assert {"401", "403", "429"} <= set(search["responses"]) and search["security"]
    assert document["paths"]["/api/v1/health"]["get"]["security"] == []


def test_a_session_follows_the_users_roles_as_configured_now(world: World) -> None:
    with httpx.Client(base_url=world.base, timeout=30) as browser:
        assert browser.post("/api/v1/auth/login", json={"user": "runner", "password": PASSWORD}).status_code == 200
        session = dict(browser.cookies)
    changed = auth_with({**USERS, "runner": user("viewer@team.b")})
    gone = auth_with({k: v for k, v in USERS.items() if k != "runner"})
    for auth, expected in ((changed, [{"role": "viewer", "namespace": "team.b"}]), (gone, None)):
        # the same session secret: the cookie is valid on these servers, the user's roles are theirs
        auth = auth.model_copy(update={"session_secret": SESSION_SECRET})
        with serving(world.kafka, world.es, auth=auth) as base, httpx.Client(base_url=base, cookies=session) as other:
            me = other.get("/api/v1/me")
            assert (me.json()["bindings"] if me.status_code == 200 else None) == expected, me.text
