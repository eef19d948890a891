"""`conveyor demo` gives its server's URL to the example flows that declare the input `conveyorUrl`."""

from __future__ import annotations

from pathlib import Path

from conveyor.cli.demo import demo_inputs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_http_example_gets_the_server_url() -> None:
    url = "http://127.0.0.1:41234"
    assert demo_inputs(EXAMPLES / "http-request.yaml", url) == [f"conveyorUrl={url}"]


def test_other_examples_and_no_server_get_nothing() -> None:
    assert demo_inputs(EXAMPLES / "hello.yaml", "http://127.0.0.1:1") == []
    assert demo_inputs(EXAMPLES / "http-request.yaml", None) == []
