"""Which namespaces a flow reaches (`common/namespace_access.py`): its own and its parents, others by a rule of
`CONVEYOR_NAMESPACES_ALLOWED`; secrets kept to namespaces by `CONVEYOR_NAMESPACES_SECRETS`. Through
`secret()`, `kv()` (a store in memory: the pure logic) and `namespaceFiles.namespaces`. The kv tasks on the
real Kafka: tests/integration/test_kv_tasks.py."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor.common import namespace_access
from conveyor.common.errors import RenderError
from conveyor.common.events import TaskResult
from conveyor.common.kv import KvEntry, KvType
from conveyor.common.namespace_access import NamespaceAccessDenied, allowed, check_kv, check_secret
from conveyor.common.render import render
from conveyor.common.state import StateType
from conveyor.worker.attempt import Attempt
from conveyor.worker.testing import make_job
from tests.unit.test_nsfiles import put, storage  # noqa: F401  (the local storage of each test, autouse)

NS = "company.team"


@pytest.fixture(autouse=True)
def rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CONVEYOR_NAMESPACES_ALLOWED", raising=False)
    monkeypatch.delenv("CONVEYOR_NAMESPACES_SECRETS", raising=False)
    namespace_access.settings.cache_clear()
    yield
    namespace_access.settings.cache_clear()


def configure(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f"CONVEYOR_NAMESPACES_{name}", value)
    namespace_access.settings.cache_clear()


def test_a_flow_reaches_its_namespace_and_its_parents_only_by_default() -> None:
    assert allowed("company.team", NS, {}) and allowed("company", NS, {})
    assert not allowed("company.team.child", NS, {})  # a child is another namespace
    assert not allowed("other", NS, {}) and not allowed("comp", "company", {})  # whole segments only


def test_rules_name_a_namespace_and_who_may_use_it() -> None:
    rules = {"shared": ["company.*"], "ops.*": ["ops.admin"], "*": ["root"]}
    assert allowed("shared", NS, rules) and allowed("shared", "company", rules)
    assert not allowed("shared", "companyx", rules)
    assert allowed("ops.db", "ops.admin", rules) and not allowed("ops.db", "ops.user", rules)
    assert allowed("anything", "root", rules) and not allowed("anything", "rooted", rules)


def test_the_messages_are_the_references() -> None:
    with pytest.raises(NamespaceAccessDenied) as denied:
        check_kv("other", NS, {})
    expected = "Cannot access the KV store. Access to 'other' namespace is not allowed from 'company.team'."
    assert str(denied.value) == expected
    check_kv("other", None, {})  # the API and the CLI: their roles decide


def test_a_scoped_secret_is_read_by_its_namespaces_and_their_children_only() -> None:
    scopes = {"PROD_DB": ["company.prod"], "ANY": ["*"]}
    check_secret("PROD_DB", "company.prod", scopes)
    check_secret("PROD_DB", "company.prod.etl", scopes)
    check_secret("UNLISTED", "anywhere", scopes)
    check_secret("ANY", "anywhere", scopes)
    for origin in ("company.prodx", "company", None):
        with pytest.raises(NamespaceAccessDenied, match="'PROD_DB' is not allowed from namespace"):
            check_secret("PROD_DB", origin, scopes)


def test_secret_refuses_a_flow_outside_the_secrets_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_PROD_DB", base64.b64encode(b"pw-prod").decode())
    configure(monkeypatch, "SECRETS", '{"PROD_DB": ["company.prod"]}')
    assert render("{{ secret('PROD_DB') }}", {"flow": {"namespace": "company.prod.etl"}}) == "pw-prod"
    with pytest.raises(RenderError, match=re.escape("not allowed from namespace 'company.team'")) as denied:
        render("{{ secret('PROD_DB') }}", {"flow": {"namespace": NS}})
    assert "pw-prod" not in str(denied.value)


class Store:
    """An in-memory KV reader (pure logic; the real store is tests/integration/test_kv_tasks.py)."""

    def get(self, namespace: str, key: str) -> KvEntry | None:
        return KvEntry(namespace=namespace, key=key, type=KvType.STRING, value=f"{namespace}:{key}")


def kv_render(template: str, namespace: str = NS) -> Any:
    return render(template, {"flow": {"namespace": namespace}, "_kv": Store()})


def test_kv_reads_other_namespaces_only_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert kv_render("{{ kv('k') }}") == "company.team:k"
    assert kv_render("{{ kv('k', namespace='company') }}") == "company:k"
    with pytest.raises(RenderError, match=re.escape("Access to 'shared' namespace is not allowed from 'company.team'")):
        kv_render("{{ kv('k', namespace='shared') }}")
    configure(monkeypatch, "ALLOWED", '{"shared": ["company.*"]}')
    assert kv_render("{{ kv('k', namespace='shared') }}") == "shared:k"
    with pytest.raises(RenderError, match="not allowed from 'elsewhere'"):
        kv_render("{{ kv('k', namespace='shared') }}", "elsewhere")


def commands(namespaces: list[str]) -> dict[str, Any]:
    return {
        "id": "c",
        "type": "io.kestra.plugin.scripts.shell.Commands",
        "namespaceFiles": {"enabled": True, "namespaces": namespaces, "folderPerNamespace": True},
        "commands": ["cat */*.txt"],
    }


def attempt(task: dict[str, Any]) -> TaskResult:
    result = Attempt(make_job(task)).run()
    assert result is not None
    return result


def test_namespace_files_of_another_namespace_need_a_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    put("a.txt", b"mine")
    put("p.txt", b"parent", namespace="company")
    put("s.txt", b"shared", namespace="shared")
    result = attempt(commands([NS, "company"]))
    assert result.state is StateType.SUCCESS, result.error
    result = attempt(commands([NS, "shared"]))
    assert result.state is StateType.FAILED
    assert result.error == (
        "namespaceFiles: Cannot access the namespace files of 'shared'. Access to 'shared' namespace is not "
        "allowed from 'company.team' (CONVEYOR_NAMESPACES_ALLOWED)."
    )
    configure(monkeypatch, "ALLOWED", '{"shared": ["company.team"]}')
    result = attempt(commands([NS, "shared"]))
    assert result.state is StateType.SUCCESS, result.error
