"""How a bulk's answers are sorted: written, stale (409), rejected (400), or resend the batch.

A scripted HTTP server plays Elasticsearch's `_bulk` endpoint, so the real client and the real
`streaming_bulk` helper run; the answers are the ones Elasticsearch gives (the integration tests see
the real server give them too).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from conveyor.indexer.batch import Pending
from conveyor.indexer.bulk import Backoff, write
from conveyor.indexer.documents import Action
from conveyor.indexer.errors import RetryableIndexError, WritesRefused

Respond = Callable[[list[dict[str, Any]]], tuple[int, dict[str, Any]]]
FAST = Backoff(max_retries=2, initial=0.01, maximum=0.01)


class Script:
    def __init__(self) -> None:
        self.respond: Respond = lambda docs: (200, items(docs, lambda d: 201))
        self.requests: list[list[dict[str, Any]]] = []


def items(docs: list[dict[str, Any]], status: Callable[[dict[str, Any]], int]) -> dict[str, Any]:
    out = []
    for d in docs:
        code = status(d)
        item: dict[str, Any] = {"_index": d["_index"], "_id": d["_id"], "status": code}
        if code >= 300:
            item["error"] = {"type": "boom", "reason": f"status {code}"}
        out.append({"index": item})
    return {"errors": any(i["index"]["status"] >= 300 for i in out), "took": 1, "items": out}


@pytest.fixture
def es() -> Iterator[tuple[Elasticsearch, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            lines = self.rfile.read(int(self.headers["Content-Length"])).decode().splitlines()
            docs = []
            for header, source in zip(lines[::2], lines[1::2], strict=True):
                meta = json.loads(header)["index"]
                docs.append({**meta, "source": json.loads(source)})
            script.requests.append(docs)
            status, body = script.respond(docs)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_PUT

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = Elasticsearch(f"http://127.0.0.1:{server.server_port}", max_retries=0)
    yield client, script
    client.close()
    server.shutdown()
    server.server_close()


def pending(*ids: str) -> list[Pending]:
    return [Pending(Action("taskruns", "cv-taskruns-2024.05", i, {"id": i}, version=3), message=None) for i in ids]  # type: ignore[arg-type]


def test_written_stale_and_rejected_are_told_apart(es: tuple[Elasticsearch, Script]) -> None:
    client, script = es
    codes = {"ok": 201, "old": 409, "bad": 400}
    script.respond = lambda docs: (200, items(docs, lambda d: codes[d["_id"]]))

    result = write(client, pending("ok", "old", "bad"), FAST)

    assert (result.indexed, result.stale) == (1, 1)
    [rejected] = result.rejected
    assert rejected.pending.action.id == "bad" and rejected.status == 400
    assert rejected.reason == "boom: status 400"
    [request] = script.requests
    assert request[0]["version"] == 3 and request[0]["version_type"] == "external"


def test_a_429_is_retried_by_the_helper_for_the_refused_documents_only(es: tuple[Elasticsearch, Script]) -> None:
    client, script = es
    script.respond = lambda docs: (
        200,
        items(docs, lambda d: 429 if len(script.requests) == 1 and d["_id"] == "b" else 201),
    )

    result = write(client, pending("a", "b"), FAST)

    assert result.indexed == 2
    assert [[d["_id"] for d in r] for r in script.requests] == [["a", "b"], ["b"]]


def test_still_429_after_the_helper_retries_means_resend_the_batch(es: tuple[Elasticsearch, Script]) -> None:
    client, script = es
    script.respond = lambda docs: (200, items(docs, lambda d: 429))
    with pytest.raises(RetryableIndexError, match="must be resent"):
        write(client, pending("a"), FAST)
    assert len(script.requests) == 3  # the first try and FAST's two retries


def test_a_5xx_item_means_resend_the_batch(es: tuple[Elasticsearch, Script]) -> None:
    client, script = es
    script.respond = lambda docs: (200, items(docs, lambda d: 503 if d["_id"] == "b" else 201))
    with pytest.raises(RetryableIndexError, match="b: 503"):
        write(client, pending("a", "b"), FAST)


def test_a_cluster_block_is_writes_refused_with_its_reason(es: tuple[Elasticsearch, Script]) -> None:
    client, script = es
    block = {"type": "cluster_block_exception", "reason": "index [x] blocked by: [TOO_MANY_REQUESTS/12/disk usage "
             "exceeded flood-stage watermark, index has read-only-allow-delete block]"}  # fmt: skip

    def blocked(docs: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        answer = items(docs, lambda d: 403)
        for item in answer["items"]:
            item["index"]["error"] = block
        return 200, answer

    script.respond = blocked
    with pytest.raises(WritesRefused, match="flood-stage watermark"):
        write(client, pending("a"), FAST)


def test_a_failed_request_means_resend_the_batch(es: tuple[Elasticsearch, Script]) -> None:
    client, script = es
    script.respond = lambda docs: (503, {"error": {"type": "unavailable", "reason": "no master"}, "status": 503})
    with pytest.raises(RetryableIndexError, match="bulk request failed: 503"):
        write(client, pending("a"), FAST)


def test_a_request_refused_as_a_whole_is_split_to_find_the_bad_document(es: tuple[Elasticsearch, Script]) -> None:
    client, script = es

    def respond(docs: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        if any(d["_id"] == "bad" for d in docs):
            return 400, {"error": {"type": "illegal_argument_exception", "reason": "bad"}, "status": 400}
        return 200, items(docs, lambda d: 201)

    script.respond = respond
    result = write(client, pending("a", "bad", "c"), FAST)

    assert result.indexed == 2
    assert [r.pending.action.id for r in result.rejected] == ["bad"]
    assert [len(r) for r in script.requests] == [3, 1, 1, 1]


def test_an_unreachable_server_means_resend_the_batch() -> None:
    client = Elasticsearch("http://127.0.0.1:1", max_retries=0)
    with pytest.raises(RetryableIndexError, match="unreachable"):
        write(client, pending("a"), FAST)
    assert write(client, []).indexed == 0  # nothing to write: no request at all
