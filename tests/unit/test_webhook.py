"""The Webhook route's pure parts: the body as JSON or text, multi-valued headers and parameters without the
credentials, and which trigger a key opens (none when the flow or the trigger is disabled)."""

from __future__ import annotations

from conveyor.api.webhook import SECRET_HEADERS, _multi, find_webhook, parse_body
from conveyor.common.loader import load_flow

FLOW = """
id: hook
namespace: team
{disabled}
tasks:
  - {{id: t, type: io.kestra.plugin.core.debug.Return, format: x}}
triggers:
  - {{id: a, type: io.kestra.plugin.core.trigger.Webhook, key: key-a}}
  - {{id: b, type: io.kestra.plugin.core.trigger.Webhook, key: key-b, disabled: true}}
  - {{id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: "@daily"}}
"""


def test_the_body_is_json_when_it_parses_else_text() -> None:
    assert parse_body(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse_body(b"42") == 42
    assert parse_body(b"name=Ada&x=1") == "name=Ada&x=1"
    assert parse_body(b"\xff\xfeoops") == "\ufffd\ufffdoops"
    assert parse_body(b"") is None


def test_headers_and_parameters_keep_every_value_but_no_credentials() -> None:
    items = [("X-Tag", "a"), ("x-tag", "b"), ("Authorization", "Bearer t"), ("Cookie", "s=1"), ("Accept", "*/*")]
    assert _multi(items, skip=SECRET_HEADERS) == {"X-Tag": ["a"], "x-tag": ["b"], "Accept": ["*/*"]}
    assert _multi([("source", "ci"), ("source", "cd")]) == {"source": ["ci", "cd"]}


def test_a_key_opens_only_its_enabled_webhook() -> None:
    flow = load_flow(FLOW.format(disabled=""))
    found = find_webhook(flow, "key-a")
    assert found is not None and found.id == "a"
    assert find_webhook(flow, "key-b") is None  # the trigger is disabled
    assert find_webhook(flow, "key-") is None and find_webhook(flow, "") is None
    assert find_webhook(load_flow(FLOW.format(disabled="disabled: true")), "key-a") is None
