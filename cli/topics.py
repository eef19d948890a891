"""`conveyor topics create|describe`: Conveyor's Kafka topics with the partitions, replication factor and
cleanup policies of docs/architecture.md, and what the cluster actually holds.

Both print one row per topic (partitions, replication factor, cleanup policy, and what is wrong with it)
and exit 1 when a topic is missing or wrong: services refuse to start on such topics (`verify.py`).
`create` never changes an existing topic; it creates the missing ones.
"""

from __future__ import annotations

from conveyor.cli.output import console, print_json, table
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.verify import TopicReport, connect, inspect_topics
from conveyor.common.settings import KafkaSettings


def topics(action: str, kafka: KafkaSettings, output: str = "table") -> int:
    if action == "create":
        created = ensure_topics(kafka)
        if output == "table":
            console.print(f"created {len(created)} topics" + (": " + ", ".join(created) if created else ""))
    reports = inspect_topics(kafka, connect(kafka))
    if output == "json":
        print_json([_row(r) for r in reports])
    else:
        rows = [
            [
                r.name,
                "-" if r.partitions is None else str(r.partitions),
                "-" if r.replication is None else str(r.replication),
                r.cleanup or "-",
                _status(r),
            ]
            for r in reports
        ]
        title = f"Topics on {kafka.bootstrap}"
        console.print(table(title, ["topic", "partitions", "replicas", "cleanup", "status"], rows))
    return 1 if any(r.problems for r in reports) else 0


def _status(report: TopicReport) -> str:
    if report.problems:
        return "[red]" + "; ".join(report.problems) + "[/red]"
    if report.warnings:
        return "[yellow]" + "; ".join(report.warnings) + "[/yellow]"
    return "[green]ok[/green]"


def _row(report: TopicReport) -> dict[str, object]:
    return {
        "topic": report.name,
        "partitions": report.partitions,
        "replicationFactor": report.replication,
        "cleanupPolicy": report.cleanup,
        "expectedCleanupPolicy": report.expected_cleanup,
        "problems": report.problems,
        "warnings": report.warnings,
    }
