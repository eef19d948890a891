"""Namespace files through the HTTP API (and the CLI) on the real servers, with the local-directory storage:
upload (raw body and multipart `fileContent`), list, download, delete, revisions; a viewer reads, a developer writes,
nobody touches another namespace's files; bad paths are 422 naming `path`."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from conveyor.common.storage import default_storage
from tests.apiserver import ADMIN_AUTH, PASSWORD, auth_with, serving, user
from tests.cli import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

BASE = "/api/v1/namespaces/ns.a/files"


@dataclass
class Api:
    http: httpx.Client
    root: Path


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, elasticsearch_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    prefix = f"t-nsf-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=f"{prefix}.", partitions=1)
    es = ElasticsearchSettings(url=elasticsearch_url, index_prefix=prefix)
    ensure_topics(kafka)
    root = tmp_path_factory.mktemp("storage")
    users = {"viewer": user("viewer@ns.a"), "dev": user("developer@ns.a"), "other": user("developer@ns.b")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVEYOR_STORAGE_TYPE", "local")
        patch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(root))
        default_storage.cache_clear()
        with serving(kafka, es, auth=auth_with(users)) as base, httpx.Client(base_url=base, timeout=30) as http:
            http.auth = ADMIN_AUTH
            yield Api(http, root)
        default_storage.cache_clear()


def as_(name: str) -> tuple[str, str]:
    return (name, PASSWORD)


def test_upload_list_download_and_delete(api: Api) -> None:
    raw = api.http.post(BASE, params={"path": "sql/q.sql"}, content=b"select 1", auth=as_("dev"))
    assert raw.status_code == 200, raw.text
    assert raw.json() == {"path": "sql/q.sql", "size": 8, "revision": 1}
    form = api.http.post(BASE, params={"path": "/scripts/a.py"}, files={"fileContent": ("a.py", b"print(1)")})
    assert form.status_code == 200 and form.json()["path"] == "scripts/a.py"
    assert (api.root / "ns/a/_files/sql/q.sql").read_bytes() == b"select 1"

    listed = api.http.get(BASE + "/directory", auth=as_("viewer"))
    assert listed.status_code == 200 and [f["path"] for f in listed.json()] == ["scripts/a.py", "sql/q.sql"]
    assert [f["path"] for f in api.http.get(BASE + "/directory", params={"path": "sql"}).json()] == ["sql/q.sql"]
    got = api.http.get(BASE, params={"path": "sql/q.sql"}, auth=as_("viewer"))
    assert got.status_code == 200 and got.content == b"select 1"
    assert 'filename="q.sql"' in got.headers["content-disposition"]

    assert api.http.delete(BASE, params={"path": "sql"}, auth=as_("dev")).status_code == 204
    assert api.http.get(BASE, params={"path": "sql/q.sql"}).status_code == 404
    assert api.http.delete(BASE, params={"path": "sql"}).status_code == 404


def test_a_viewer_reads_a_developer_writes_and_namespaces_are_apart(api: Api) -> None:
    refused = api.http.post(BASE, params={"path": "x.txt"}, content=b"x", auth=as_("viewer"))
    assert refused.status_code == 403 and "developer role on namespace 'ns.a'" in refused.json()["message"]
    assert api.http.delete(BASE, params={"path": "x.txt"}, auth=as_("viewer")).status_code == 403
    assert api.http.get(BASE + "/directory", auth=as_("other")).status_code == 403
    assert api.http.post(BASE, params={"path": "x.txt"}, content=b"x", auth=as_("other")).status_code == 403
    assert api.http.get(BASE + "/directory").status_code == 200
    assert httpx.get(api.http.base_url.join(BASE + "/directory")).status_code == 401


@pytest.mark.parametrize("path", ["../x", "a//b", "/"])
def test_a_path_that_leaves_the_namespace_is_422_naming_path(api: Api, path: str) -> None:
    answer = api.http.post(BASE, params={"path": path}, content=b"x")
    assert answer.status_code == 422 and "path" in answer.text, answer.text
    assert api.http.get(BASE, params={"path": path}).status_code == 422


def test_a_folder_in_the_way_is_a_conflict(api: Api) -> None:
    assert api.http.post(BASE, params={"path": "dir/inner.txt"}, content=b"x").status_code == 200
    onto_folder = api.http.post(BASE, params={"path": "dir"}, content=b"x")
    assert onto_folder.status_code == 409 and "path" in onto_folder.text
    under_file = api.http.post(BASE, params={"path": "dir/inner.txt/deeper"}, content=b"x")
    assert under_file.status_code == 409
    assert api.http.delete(BASE, params={"path": "dir"}).status_code == 204


def test_a_multipart_upload_without_file_content_names_it(api: Api) -> None:
    answer = api.http.post(BASE, params={"path": "f.txt"}, files={"other": ("f.txt", b"x")})
    assert answer.status_code == 422 and "fileContent" in answer.text


def test_the_cli_uploads_a_folder_lists_gets_and_deletes(api: Api, tmp_path: Path) -> None:
    source = tmp_path / "project"
    (source / "lib").mkdir(parents=True)
    (source / "main.py").write_text("print('main')\n")
    (source / "lib" / "util.py").write_text("X = 1\n")
    env = {**os.environ, "CONVEYOR_STORAGE_TYPE": "local", "CONVEYOR_STORAGE_LOCAL_ROOT": str(api.root)}
    uploaded = run_cli(env, "nsfiles", "upload", str(source), "--namespace", "ns.cli", "--to", "app")
    assert uploaded.returncode == 0, uploaded.stderr
    listed = run_cli(env, "nsfiles", "list", "--namespace", "ns.cli", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    assert '"app/lib/util.py"' in listed.stdout and '"app/main.py"' in listed.stdout
    got = run_cli(env, "nsfiles", "get", "app/main.py", "--namespace", "ns.cli")
    assert got.returncode == 0 and got.stdout == "print('main')\n"
    # what the CLI stored, the API serves
    served = api.http.get("/api/v1/namespaces/ns.cli/files", params={"path": "app/lib/util.py"})
    assert served.status_code == 200 and served.content == b"X = 1\n"
    assert run_cli(env, "nsfiles", "delete", "app", "--namespace", "ns.cli").returncode == 0
    missing = run_cli(env, "nsfiles", "get", "app/main.py", "--namespace", "ns.cli")
    assert missing.returncode == 1 and "no file 'app/main.py'" in missing.stderr
    bad = run_cli(env, "nsfiles", "get", "../x", "--namespace", "ns.cli")
    assert bad.returncode == 2 and "'..'" in bad.stderr


def test_every_upload_is_a_revision_listed_and_downloaded(api: Api) -> None:
    path = {"path": "conf/app.yaml"}
    for n, body in enumerate((b"v: 1", b"v: 22", b"v: 333"), start=1):
        stored = api.http.post(BASE, params=path, content=body, auth=as_("dev"))
        assert stored.status_code == 200 and stored.json()["revision"] == n, stored.text
    listed = api.http.get(BASE + "/revisions", params=path, auth=as_("viewer"))
    assert listed.status_code == 200, listed.text
    assert [(r["revision"], r["size"]) for r in listed.json()] == [(1, 4), (2, 5), (3, 6)]
    assert api.http.get(BASE, params=path).content == b"v: 333"
    old = api.http.get(BASE, params={**path, "revision": 1}, auth=as_("viewer"))
    assert old.status_code == 200 and old.content == b"v: 1"
    assert api.http.get(BASE, params={**path, "revision": 9}).status_code == 404
    assert api.http.get(BASE, params={**path, "revision": 0}).status_code == 422
    assert api.http.get(BASE + "/revisions", params=path, auth=as_("other")).status_code == 403
    # the revisions are not files of the namespace, and go with the file
    assert "conf/app.yaml" in [f["path"] for f in api.http.get(BASE + "/directory").json()]
    assert not any("_files_revisions" in f["path"] for f in api.http.get(BASE + "/directory").json())
    assert api.http.delete(BASE, params=path).status_code == 204
    assert api.http.get(BASE + "/revisions", params=path).status_code == 404
    again = api.http.post(BASE, params=path, content=b"fresh")
    assert again.json()["revision"] == 1


def test_the_cli_lists_revisions_and_gets_one(api: Api, tmp_path: Path) -> None:
    env = {**os.environ, "CONVEYOR_STORAGE_TYPE": "local", "CONVEYOR_STORAGE_LOCAL_ROOT": str(api.root)}
    source = tmp_path / "q.sql"
    for text in ("select 1\n", "select 2\n"):
        source.write_text(text)
        assert run_cli(env, "nsfiles", "upload", str(source), "--namespace", "ns.rev").returncode == 0
    listed = run_cli(env, "nsfiles", "revisions", "q.sql", "--namespace", "ns.rev", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    assert [r["revision"] for r in json.loads(listed.stdout)] == [1, 2]
    first = run_cli(env, "nsfiles", "get", "q.sql", "--namespace", "ns.rev", "--revision", "1")
    assert first.returncode == 0 and first.stdout == "select 1\n"
    assert run_cli(env, "nsfiles", "get", "q.sql", "--namespace", "ns.rev").stdout == "select 2\n"
    # what the CLI stored, the API lists
    served = api.http.get("/api/v1/namespaces/ns.rev/files/revisions", params={"path": "q.sql"})
    assert [r["revision"] for r in served.json()] == [1, 2]
    missing = run_cli(env, "nsfiles", "get", "q.sql", "--namespace", "ns.rev", "--revision", "7")
    assert missing.returncode == 1 and "no file 'q.sql' revision 7" in missing.stderr
    bad = run_cli(env, "nsfiles", "list", "--namespace", "ns.rev", "--revision", "1")
    assert bad.returncode == 2 and "--revision" in bad.stderr
