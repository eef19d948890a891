"""The Namespaces page in a real browser (Debian's Chromium through Playwright) on the real Kafka and
Elasticsearch: the namespaces of the deployed flows as a tree with their parents; one namespace's flows, links
and KV store — read a value, set a key from the form, delete it; a viewer gets neither form nor Delete. axe-core
finds no serious or critical violation.

Screenshot: `test-output/web-namespaces.png`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.apiserver import ADMIN_AUTH, PASSWORD, auth_with, serving, user
from tests.e2e.axe import serious_violations as _serious_violations
from tests.e2e.web import OUTPUT, browser, open_page, sign_in, until  # noqa: F401  (browser: the Chromium fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _flow(namespace: str, flow_id: str) -> str:
    return f"""id: {flow_id}
namespace: {namespace}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


@pytest.fixture
def server(kafka_settings: KafkaSettings, es_settings: ElasticsearchSettings) -> Iterator[httpx.Client]:
    auth = auth_with({"viewer": user("viewer@shop")})
    with (
        serving(kafka_settings, es_settings, auth=auth) as url,
        httpx.Client(base_url=url, timeout=30, auth=ADMIN_AUTH) as client,
    ):
        for namespace, flow_id in (("shop.orders", "intake"), ("shop.orders", "refund"), ("shop.stock", "count")):
            deployed = client.post(
                "/api/v1/flows", content=_flow(namespace, flow_id), headers={"content-type": "text/plain"}
            )
            assert deployed.status_code == 201, deployed.text
        put = client.put(
            "/api/v1/namespaces/shop.orders/kv/threshold",
            json={"type": "NUMBER", "value": 42, "description": "max per batch"},
        )
        assert put.status_code == 200, put.text
        yield client


def test_a_namespace_shows_its_flows_and_its_kv_store(server: httpx.Client, browser: Any) -> None:  # noqa: F811
    OUTPUT.mkdir(exist_ok=True)
    base = str(server.base_url).rstrip("/")
    page, errors = open_page(browser, base, "/namespaces")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#namespaces li").first.wait_for()
    assert page.locator("#namespaces li a").evaluate_all("as => as.map(a => a.title)") == [
        "shop",
        "shop.orders",
        "shop.stock",
    ]
    page.click("#namespaces a[title='shop.orders']")
    page.wait_for_url("**/namespaces?namespace=shop.orders")
    until(page, "document.querySelectorAll('#kv tbody tr[data-key]').length === 1")
    assert page.locator("#ns-flows tbody td a").all_inner_texts() == ["intake", "refund"]
    assert page.locator("#ns-links a[href='/executions?namespace=shop.orders']").count() == 1
    page.click("#kv tr[data-key='threshold'] button")
    until(page, "!document.querySelector('#kv-value').hidden")
    assert page.locator("#kv-value").inner_text() == "threshold = 42"

    page.fill("#kv-form input[name='key']", "region")
    page.fill("#kv-form input[name='value']", "eu-west")
    page.fill("#kv-form input[name='description']", "where orders ship from")
    page.click("#kv-form button[type=submit]")
    until(page, "document.querySelectorAll('#kv tbody tr[data-key]').length === 2")
    assert server.get("/api/v1/namespaces/shop.orders/kv/region").json()["value"] == "eu-west"
    assert _serious_violations(page) == []
    page.screenshot(path=str(OUTPUT / "web-namespaces.png"), full_page=True, animations="disabled")
    page.click("#kv tr[data-key='region'] button.danger")
    until(page, "document.querySelectorAll('#kv tbody tr[data-key]').length === 1")
    assert server.get("/api/v1/namespaces/shop.orders/kv/region").status_code == 404
    assert errors == []
    page.close()

    viewer = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(viewer, base, "/namespaces?namespace=shop.orders", ("viewer", PASSWORD))
    until(viewer, "document.querySelectorAll('#kv tbody tr[data-key]').length === 1")
    assert viewer.locator("#kv-form").is_hidden()
    assert viewer.locator("#kv button.danger").count() == 0
    assert _serious_violations(viewer) == []
    viewer.context.close()
