"""`conveyor triggers list|enable|disable|backfill`: the triggers of the deployed flows, and control of them.

The work is `common.triggers.admin`'s, shared with the HTTP API. An unknown trigger or a request that cannot
apply (a backfill of a Webhook, an end before the start) is refused with its message and exit code 2."""

from __future__ import annotations

from datetime import datetime

from conveyor.cli.output import console, err_console, print_json, table
from conveyor.common.errors import UsageError
from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import KafkaSettings
from conveyor.common.triggers import admin
from conveyor.common.triggers.admin import TriggerError, TriggerRow
from conveyor.common.triggers.state import Action


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


def list_triggers(kafka: KafkaSettings, namespace: str | None, output: str) -> int:
    rows = admin.list_triggers(kafka, namespace)
    if output == "json":
        print_json([row.to_dict() for row in rows])
        return 0
    console.print(table("Triggers", ["namespace", "flow", "trigger", "type", "enabled", "cron", "last", "next"],
                        [_cells(row) for row in rows]))  # fmt: skip
    return 0


def _cells(row: TriggerRow) -> list[str]:
    enabled = "yes" if row.enabled else f"no ({row.disabled_by})"
    kind = row.type.rsplit(".", 1)[-1]
    cron = f"{row.cron} {row.timezone}" if row.cron else "-"
    return [row.namespace, row.flow_id, row.trigger_id, kind, enabled, cron, _when(row.last), _when(row.next)]


def parse_date(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{flag}: expected an ISO-8601 date-time such as 2026-12-01T00:00:00Z, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        raise UsageError(f"{flag}: give a time zone offset, e.g. {value}Z")
    return parsed


def control(
    kafka: KafkaSettings,
    action: Action,
    target: tuple[str, str, str],
    start: str | None = None,
    end: str | None = None,
) -> int:
    namespace, flow_id, trigger_id = target
    producer = Producer(kafka)
    try:
        sent = admin.request(
            kafka, producer, namespace, flow_id, trigger_id, action,
            start=parse_date(start, "--start"), end=parse_date(end, "--end"),
        )  # fmt: skip
    except TriggerError as exc:
        raise UsageError(str(exc)) from None
    err_console.print(f"{action.value} requested for {sent.key} (request {sent.request_id})")
    return 0
