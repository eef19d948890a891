"""Pebble's template functions: `{% extends %}` with `parent()` (a namespace file as the parent template) and
`i18n(bundle, key, params)` (Java `.properties` bundles among the namespace files)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.common import nsfiles
from conveyor.common.errors import RenderError
from conveyor.common.expr_i18n import message_format, parse_properties
from conveyor.common.render import render
from conveyor.common.storage import default_storage

NS = "company.team"
CTX = {"flow": {"namespace": NS, "id": "f"}, "execution": {"id": "e"}}


@pytest.fixture(autouse=True)
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONVEYOR_STORAGE_TYPE", "local")
    monkeypatch.setenv("CONVEYOR_STORAGE_LOCAL_ROOT", str(tmp_path / "storage"))
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    default_storage.cache_clear()
    yield
    default_storage.cache_clear()


def put(path: str, text: str) -> None:
    nsfiles.put(NS, path, io.BytesIO(text.encode("utf-8")))


def test_parent_renders_the_parent_templates_block_as_the_reference_docs_show() -> None:
    # kestra-io/docs, content/docs/expressions/04.function.md, "parent"
    put("parent.peb", '{% block "content" %}parent contents{% endblock %}')
    child = '{% extends "parent.peb" %}{% block "content" %}child contents {{ parent() }}{% endblock %}'
    assert render(child, CTX) == "child contents parent contents"


def test_a_parent_template_sees_the_variables_and_pebble_syntax() -> None:
    put("layouts/base.peb", "[{% block body %}{{ flow.id ?? 'none' }}{% endblock %}]")
    assert render('{% extends "layouts/base.peb" %}', CTX) == "[f]"
    assert render('{% extends "layouts/base.peb" %}{% block body %}{{ parent() }}!{% endblock %}', CTX) == "[f!]"


def test_extends_of_a_missing_file_fails_naming_it() -> None:
    with pytest.raises(RenderError, match=r"no namespace file 'nope\.peb' of company\.team"):
        render('{% extends "nope.peb" %}', CTX)


def test_i18n_reads_the_bundle_for_the_process_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    put("messages.properties", "greeting=Hello {0}\nbye=Goodbye\n")
    put("messages_fr.properties", "greeting=Bonjour {0}, c''est {1}\n")
    assert render("{{ i18n('messages', 'greeting', 'Ada') }}", CTX) == "Hello Ada"
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert render("{{ i18n('messages', 'greeting', ['Ada', true]) }}", CTX) == "Bonjour Ada, c'est true"
    assert render("{{ i18n('messages', 'bye') }}", CTX) == "Goodbye"  # the base bundle is the parent
    assert render("{{ i18n('messages', 'greeting') }}", CTX) == "Bonjour {0}, c''est {1}"  # no params: as written


def test_i18n_dotted_bundle_is_a_folder() -> None:
    put("i18n/labels.properties", "title = Caf\\u00e9 \\\n  ouvert\n")
    assert render("{{ i18n('i18n.labels', 'title') }}", CTX) == "Café ouvert"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ i18n('missing', 'k') }}", "Can't find bundle for base name missing"),
        ("{{ i18n('messages', 'nokey') }}", "Can't find resource for bundle messages, key nokey"),
        ("{{ i18n('messages') }}", "missing 1 required positional argument"),
    ],
)
def test_i18n_failures_name_the_bundle_and_key(template: str, message: str) -> None:
    put("messages.properties", "k=v\n")
    with pytest.raises(RenderError, match=message):
        render(template, CTX)


def test_properties_and_message_format_as_java() -> None:
    text = "# comment\n! comment\na=1\nb : two words\nc three\nkey\\=x=y\n"
    assert parse_properties(text) == {"a": "1", "b": "two words", "c": "three", "key=x": "y"}
    assert message_format("{0} has {1,number} item''s '{0}'", ["Ada", 3]) == "Ada has 3 item's {0}"
