"""The pure parts of authentication and authorization: roles and namespace prefixes, bindings and token
scopes, password hashing, the failed sign-in limiter, tokens' shape, sessions, the Elasticsearch filter."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi import Response

from conveyor.api.passwords import Verifier, hash_password
from conveyor.api.ratelimit import FailureLimiter
from conveyor.api.sessions import Sessions
from conveyor.api.settings import AuthSettings
from conveyor.api.tokenstore import digest, new_token, token_id_of
from conveyor.common.auth import Binding, Identity, Role, covers, merged, parse_binding
from conveyor.indexer.dsl import allowed_filter, taskrun_search
from conveyor.indexer.filters import TaskRunFilters


@pytest.mark.parametrize(
    ("prefix", "namespace", "covered"),
    [
        ("", "anything.at.all", True),
        ("team.a", "team.a", True),
        ("team.a", "team.a.sub", True),
        ("team.a", "team.ab", False),
        ("team.a", "team", False),
        ("team.a.sub", "team.a", False),
    ],
)
def test_a_prefix_covers_itself_and_what_is_under_it_on_a_dot(prefix: str, namespace: str, covered: bool) -> None:
    assert covers(prefix, namespace) is covered


def test_roles_are_ordered_and_a_binding_allows_its_role_and_below_on_its_namespaces() -> None:
    assert [r.value for r in sorted(Role, key=lambda r: r.rank)] == ["viewer", "runner", "developer", "admin"]
    runner = Binding(role=Role.RUNNER, namespace="team.a")
    assert runner.allows(Role.VIEWER, "team.a.x") and runner.allows(Role.RUNNER, "team.a")
    assert not runner.allows(Role.DEVELOPER, "team.a") and not runner.allows(Role.VIEWER, "team.b")


def test_a_scope_is_within_its_creators_bindings() -> None:
    creator = (Binding(role=Role.DEVELOPER, namespace="team.a"), Binding(role=Role.VIEWER, namespace=""))
    assert Binding(role=Role.RUNNER, namespace="team.a.sub").within(creator)
    assert Binding(role=Role.VIEWER, namespace="team.b").within(creator)
    assert not Binding(role=Role.RUNNER, namespace="team.b").within(creator)
    assert not Binding(role=Role.DEVELOPER, namespace="").within(creator)
    assert not Binding(role=Role.ADMIN, namespace="team.a").within(creator)


def test_an_identity_lists_the_prefixes_it_may_read() -> None:
    someone = Identity(
        name="x",
        kind="user",
        bindings=(Binding(role=Role.VIEWER, namespace="b"), Binding(role=Role.RUNNER, namespace="a")),
    )
    assert someone.prefixes() == ["a", "b"] and someone.prefixes(Role.RUNNER) == ["a"]
    assert someone.prefixes(Role.ADMIN) == [] and not someone.is_admin
    admin = Identity(name="y", kind="user", bindings=(Binding(role=Role.ADMIN),))
    assert admin.prefixes() is None and admin.is_admin


def test_bindings_parse_from_the_cli_and_merge_once_each() -> None:
    assert parse_binding("developer@team.a") == Binding(role=Role.DEVELOPER, namespace="team.a")
    assert parse_binding("viewer") == parse_binding("Viewer@*") == Binding(role=Role.VIEWER, namespace="")
    with pytest.raises(ValueError, match="one of viewer, runner, developer, admin"):
        parse_binding("root@x")
    a, b = Binding(role=Role.VIEWER, namespace="a"), Binding(role=Role.ADMIN)
    assert merged([a, b], [a], [b]) == (a, b)


def test_passwords_are_argon2id_and_a_success_is_remembered_but_not_a_change() -> None:
    hashed = hash_password("s3cret")
    assert hashed.startswith("$argon2id$") and "s3cret" not in hashed
    verifier = Verifier()
    assert verifier.verify("u", "s3cret", hashed) and verifier.verify("u", "s3cret", hashed)
    assert not verifier.verify("u", "wrong", hashed)
    assert not verifier.verify("u", "s3cret", hash_password("other"))  # a new hash: checked again
    assert not verifier.verify("u", "s3cret", "not-a-hash")


def test_the_limiter_counts_failures_per_key_in_a_sliding_window() -> None:
    now = [1000.0]
    limiter = FailureLimiter(limit=3, window=60, clock=lambda: now[0])
    keys = ("user:a", "client:1")
    for _ in range(3):
        assert limiter.check(keys) == 0
        limiter.fail(keys)
    assert limiter.check(keys) == 60 and limiter.check(["user:a"]) == 60 and limiter.check(["user:b"]) == 0
    now[0] += 30.5
    assert limiter.check(["client:1"]) == 30
    limiter.forget("user:a")
    assert limiter.check(["user:a"]) == 0 and limiter.check(["client:1"]) == 30
    now[0] += 30
    assert limiter.check(keys) == 0


def test_a_token_carries_its_id_and_is_stored_as_its_sha256() -> None:
    token = new_token("abc123")
    assert token.startswith("cvy_abc123_") and len(token) > 50
    assert token_id_of(token) == "abc123" and token_id_of("cvy_") is None and token_id_of("Bearer x") is None
    assert digest(token) != digest(new_token("abc123")) and len(digest(token)) == 64


def test_a_session_is_signed_and_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = AuthSettings.model_validate({"session_secret": "k" * 32, "session_hours": 1})
    sessions = Sessions(settings, secure=True)
    someone = Identity(name="ada", kind="user", bindings=(Binding(role=Role.RUNNER, namespace="a"),))
    response = Response()
    sessions.start(response, someone)
    cookies = response.headers.getlist("set-cookie")
    session = next(c for c in cookies if c.startswith("conveyor_session=")).split(";")[0].split("=", 1)[1]
    assert "Secure" in cookies[0] and "HttpOnly" in cookies[0]
    assert sessions.identity(session) == someone
    assert sessions.identity(session[:-3] + "abc") is None
    assert Sessions(AuthSettings.model_validate({"session_secret": "o" * 32}), secure=False).identity(session) is None
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)  # itsdangerous reads the clock through time.time
    assert sessions.identity(session) is None


def test_users_come_from_the_setting_and_from_a_mounted_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "users.json"
    secret.write_text(json.dumps({"bob": {"passwordHash": "$argon2id$x", "bindings": [{"role": "viewer"}]}}))
    monkeypatch.setenv("CONVEYOR_AUTH_USERS", json.dumps({"ann": {"passwordHash": "$argon2id$y"}}))
    monkeypatch.setenv("CONVEYOR_AUTH_USERS_FILE", str(secret))
    settings = AuthSettings()
    assert sorted(settings.users) == ["ann", "bob"] and settings.users["bob"].bindings[0].role == Role.VIEWER
    assert "$argon2id$x" not in repr(settings)
    monkeypatch.setenv("CONVEYOR_AUTH_USERS_FILE", str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="CONVEYOR_AUTH_USERS_FILE"):
        AuthSettings()


def test_the_search_is_confined_to_the_allowed_prefixes_inside_the_query() -> None:
    assert allowed_filter(("",)) == {"match_all": {}} and allowed_filter(()) == {"match_none": {}}
    body = taskrun_search(TaskRunFilters(allowed=("team.a",), namespace="team"))
    clauses = body["query"]["bool"]["filter"]
    assert clauses[0] == allowed_filter(("team.a",))
    should = clauses[0]["bool"]["should"][0]["bool"]["should"]
    assert should == [{"term": {"namespace": "team.a"}}, {"prefix": {"namespace": "team.a."}}]


def test_the_local_stack_admin_is_made_once_and_kept_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.cli import credentials

    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    env = credentials.local_admin_env({"CONVEYOR_AUTH_USERS": json.dumps({"ann": {"passwordHash": "h"}})})
    made = credentials.local_admin()
    assert credentials.local_admin_file().stat().st_mode & 0o777 == 0o600
    assert credentials.local_admin() == made  # kept for the next `up`
    users = json.loads(env["CONVEYOR_AUTH_USERS"])
    assert sorted(users) == ["admin", "ann"] and made["password"] not in env["CONVEYOR_AUTH_USERS"]
    assert Verifier().verify("admin", made["password"], users["admin"]["passwordHash"])
    assert env["CONVEYOR_AUTH_SESSION_SECRET"] == made["sessionSecret"]
    path = credentials.store_token("http://h:1/", "cvy_x_y")
    assert path.stat().st_mode & 0o777 == 0o600 and credentials.authorization("http://h:1", None) == "Bearer cvy_x_y"
    assert credentials.authorization("http://h:1", "tok") == "Bearer tok"
    assert credentials.forget_token("http://h:1") == "cvy_x_y" and credentials.authorization("http://h:1", None) is None
