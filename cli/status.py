"""`conveyor status`: where Kafka, Elasticsearch, the local stack's services and the server are, and whether
they answer (exit 0 when Kafka and Elasticsearch both do, else 3). Secrets show as `**********`."""

from __future__ import annotations

import os
from typing import Any

from conveyor.cli.flags import GlobalFlags
from conveyor.cli.output import console, print_json, table
from conveyor.cli.probes import elasticsearch_error, elasticsearch_write_block, kafka_error, server_ok
from conveyor.cli.redact import elasticsearch_security, kafka_security
from conveyor.cli.statefile import read_state
from conveyor.common.elastic import describe
from conveyor.common.procfs import alive
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings


def status(output: str, flags: GlobalFlags) -> int:
    state = read_state()
    kafka, es = flags.kafka(), flags.elasticsearch()
    report = _report(state, kafka, es)
    if output == "json":
        print_json(report)
    else:
        _print_table(report, kafka, es, local=state is not None)
    healthy = report["kafka"]["reachable"] and report["elasticsearch"]["reachable"]
    return 0 if healthy else 3


def _report(state: dict[str, Any] | None, kafka: KafkaSettings, es: ElasticsearchSettings) -> dict[str, Any]:
    kafka_problem, es_problem = kafka_error(kafka), elasticsearch_error(es)
    report: dict[str, Any] = {
        "localStack": state is not None,
        "kafka": {"bootstrap": kafka.bootstrap, **_reachable(kafka_problem), **kafka_security(kafka)},
        # `describe` drops any user:password written into the URL
        "elasticsearch": {
            "url": describe(es),
            **_reachable(es_problem),
            # why the indexer cannot write (it holds everything and catches up once the block is lifted)
            "writesRefused": None if es_problem else elasticsearch_write_block(es),
            **elasticsearch_security(es),
        },
        # the local stack's Kafka and Elasticsearch processes (each node of a `--cluster` one)
        "servers": {name: {"pid": pid, "alive": alive(pid)} for name, pid in (state or {}).get("servers", {}).items()},
        "services": {
            name: {"pid": pid, "alive": alive(pid)} for name, pid in (state or {}).get("services", {}).items()
        },
    }
    from conveyor.cli.apiclient import server_url as api_url
    from conveyor.cli.auth import whoami
    from conveyor.common.settings import ApiClientSettings

    server_url = (state or {}).get("serverUrl") or os.environ.get("CONVEYOR_API_URL")
    if server_url:
        url = api_url(ApiClientSettings())
        reachable = server_ok(url)
        report["server"] = {"url": url, "reachable": reachable}
        if reachable:
            report["server"]["identity"] = whoami()
    return report


def _reachable(error: str | None) -> dict[str, Any]:
    return {"reachable": error is None, "error": error}


def _print_table(report: dict[str, Any], kafka: KafkaSettings, es: ElasticsearchSettings, local: bool) -> None:
    rows = [
        ["kafka", kafka.describe(), _up_or_down(report["kafka"])],
        ["elasticsearch", describe(es), _up_or_down(report["elasticsearch"])],
    ]
    if report["elasticsearch"]["writesRefused"]:
        rows.append(["elasticsearch writes", "", f"[yellow]{report['elasticsearch']['writesRefused']}[/yellow]"])
    rows += [[name, f"pid {s['pid']}", _ok(s["alive"])] for name, s in report["servers"].items()]
    rows += [[name, f"pid {s['pid']}", _ok(s["alive"])] for name, s in report["services"].items()]
    if "server" in report:
        rows.append(["web page and API", report["server"]["url"], _ok(report["server"]["reachable"])])
        identity = report["server"].get("identity")
        if isinstance(identity, dict):
            roles = ", ".join(f"{b['role']}@{b.get('namespace') or '*'}" for b in identity["bindings"]) or "no roles"
            rows.append(["you are", f"{identity['name']} ({identity['kind']})", roles])
        elif identity:
            rows.append(["you are", "not signed in", str(identity)])
    console.print(table("Conveyor" + (" (local stack)" if local else ""), ["component", "where", "status"], rows))


def _up_or_down(section: dict[str, Any]) -> str:
    return _ok(section["reachable"], section["error"])


def _ok(flag: bool, error: str | None = None) -> str:
    if flag:
        return "[green]up[/green]"
    return "[red]down[/red]" + (f" ({error})" if error else "")
