"""`conveyor audit`: the audit trail (who deployed, started, killed, restarted what; who was refused), newest
first, read from Elasticsearch like `conveyor taskruns` (the operator's access to Elasticsearch is the right
to read it; over HTTP, `GET /api/v1/audit` is for admins)."""

from __future__ import annotations

from conveyor.cli.output import console, print_json, short, table
from conveyor.common.audit import DENIED, FAILED, parse_since
from conveyor.common.elastic import elasticsearch_client
from conveyor.common.errors import UsageError
from conveyor.common.settings import ElasticsearchSettings
from conveyor.indexer import queries

COLUMNS = ["time", "user", "action", "namespace", "flow", "execution", "client", "status", "detail"]
_STYLE = {DENIED: "red", FAILED: "yellow"}


def audit(
    es: ElasticsearchSettings,
    *,
    user: str | None,
    since: str | None,
    namespace: str | None = None,
    result: str | None = None,
    size: int = 100,
    output: str = "table",
) -> int:
    try:
        start = parse_since(since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    records = queries.search_audit(
        elasticsearch_client(es), es.index_prefix, user=user, since=start, namespace=namespace, result=result, size=size
    )
    if output == "json":
        print_json(records)
        return 0
    rows = []
    for r in records:
        style = _STYLE.get(str(r.get("result")), "green")
        rows.append(
            [
                str(r.get("timestamp", "")),
                str(r.get("user", "")),
                str(r.get("action", "")),
                str(r.get("namespace") or ""),
                str(r.get("flowId") or ""),
                str(r.get("executionId") or ""),
                str(r.get("client") or ""),
                f"[{style}]{r.get('status')} {r.get('result')}[/{style}]",
                short(r.get("detail"), 50),
            ]
        )
    console.print(table(f"Audit ({len(records)})", COLUMNS, rows))
    return 0
