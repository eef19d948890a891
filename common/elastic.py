"""The Elasticsearch client, built from `ElasticsearchSettings`: basic auth, API key or neither, and a CA.

Secrets stay `SecretStr` until the moment the client is built; `describe` gives a log-safe summary
(URL without credentials, which kind of auth) for start-up lines and error messages.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from elastic_transport.client_utils import DEFAULT
from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

from conveyor.common.errors import UsageError
from conveyor.common.settings import ElasticsearchSettings

# Transport-level retries for a connection that drops or a node answering 502/503/504. A 429 is left
# to the bulk helper, which backs off per document instead of resending the whole request.
_RETRY_ON_STATUS = (502, 503, 504)


def elasticsearch_client(settings: ElasticsearchSettings) -> Elasticsearch:
    """A client for `settings.url`; raises `UsageError` (a `ValueError`) when both basic auth and an API key
    are set."""
    if settings.api_key and (settings.username or settings.password):
        raise UsageError("set either an Elasticsearch API key or a username and password, not both")
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    basic_auth = None
    if settings.username:
        basic_auth = (settings.username, settings.password.get_secret_value() if settings.password else "")
    return Elasticsearch(
        hosts(settings),
        api_key=api_key,
        basic_auth=basic_auth,
        request_timeout=settings.request_timeout,
        max_retries=3,
        retry_on_status=_RETRY_ON_STATUS,
        retry_on_timeout=True,
        ca_certs=settings.ca_certs or DEFAULT,
        verify_certs=settings.verify_certs,
        # orjson writes a bulk request's documents several times faster than the standard json module
        serializer=OrjsonSerializer(),
    )


def hosts(settings: ElasticsearchSettings) -> list[str]:
    """The node URLs of `settings.url` (a cluster's nodes are comma-separated: the client goes on through the
    others when one is down)."""
    return [url.strip() for url in settings.url.split(",") if url.strip()]


def describe(settings: ElasticsearchSettings) -> str:
    """`http://host:9200 (basic auth as elastic)`: the URL without any password, safe to log."""
    urls, username = [], None
    for node in hosts(settings) or [settings.url]:
        parts = urlsplit(node)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        urls.append(urlunsplit((parts.scheme, host, parts.path, "", "")))
        username = username or parts.username
    url = ",".join(urls)
    if settings.api_key:
        how = "API key"
    elif settings.username or username:
        how = f"basic auth as {settings.username or username}"
    else:
        how = "no auth"
    return f"{url} ({how})"
