"""`conveyor status`'s probes say why a server does not answer, not only the exception's class."""

from __future__ import annotations

from conveyor.cli.probes import elasticsearch_error
from conveyor.common.servers.process import free_port
from conveyor.common.settings import ElasticsearchSettings


def test_an_elasticsearch_that_does_not_answer_is_named_with_the_reason() -> None:
    """It read `down (ConnectionError)`."""
    error = elasticsearch_error(ElasticsearchSettings(url=f"http://127.0.0.1:{free_port()}"))
    assert error is not None and error.startswith("ConnectionError: ") and "Connection refused" in error
