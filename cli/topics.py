"""`conveyor topics create|describe`: Conveyor's Kafka topics with the partitions and cleanup of DESIGN.md."""

from __future__ import annotations

from conveyor.cli.output import console, table
from conveyor.common.kafka.admin import admin_client, ensure_topics
from conveyor.common.kafka.topics import SPECS, Topics
from conveyor.common.settings import KafkaSettings


def topics(action: str, kafka: KafkaSettings) -> int:
    if action == "create":
        created = ensure_topics(kafka)
        console.print(f"created {len(created)} topics" + (": " + ", ".join(created) if created else ""))
        return 0
    names = Topics.of(kafka)
    metadata = admin_client(kafka).list_topics(timeout=10)
    rows = []
    for spec in SPECS:
        name = names.name(spec.name)
        found = metadata.topics.get(name)
        partitions = str(len(found.partitions)) if found else "missing"
        rows.append([name, partitions, "compact" if spec.compact else "delete"])
    console.print(table(f"Topics on {kafka.bootstrap}", ["topic", "partitions", "cleanup"], rows))
    return 0 if all(r[1] != "missing" for r in rows) else 1
