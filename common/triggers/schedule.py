"""The Schedule trigger: executions at the dates of a cron expression, in a time zone.

`cron` has 5 fields (minute hour day-of-month month day-of-week), or 6 with `withSeconds: true` (seconds
first, as the reference reads it), or a nickname (`@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`,
`@yearly`, `@annually`). The dates themselves are `conveyor.common.triggers.slots`'s (croniter)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator, model_validator

from conveyor.common.base import Spec
from conveyor.common.clock import Duration
from conveyor.common.labels import labels_map
from conveyor.common.triggers.base import Trigger
from conveyor.common.triggers.condition_base import ExecutionCondition, leaves
from conveyor.common.triggers.slots import check_cron


class RecoverMissedSchedules(StrEnum):
    """What the scheduler does with the slots it did not fire while it was down or the trigger disabled."""

    ALL = "ALL"  # fire every missed slot, oldest first
    LAST = "LAST"  # fire the most recent missed slot only
    NONE = "NONE"  # fire none; go on from the next slot to come


class Backfill(Spec):
    """Fire the slots from `start` to `end` (default: now) that are in the past, oldest first."""

    start: datetime
    end: datetime | None = None
    inputs: dict[str, Any] = {}
    labels: dict[str, str] = {}

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return labels_map(value)

    @model_validator(mode="after")
    def _order(self) -> Backfill:
        if self.end is not None and _aware(self.end) < _aware(self.start):
            raise ValueError("backfill end is before its start")
        return self


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))


class Schedule(Trigger):
    type_names = ("io.kestra.plugin.core.trigger.Schedule", "io.kestra.core.models.triggers.types.Schedule")

    cron: str
    with_seconds: bool = False
    timezone: str = "UTC"
    backfill: Backfill | None = None
    recover_missed_schedules: RecoverMissedSchedules = RecoverMissedSchedules.ALL
    # A slot found later than this after its date is skipped (the scheduler was late, not down).
    late_maximum_delay: Duration | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; expected an IANA name such as Europe/Paris") from None
        return value

    @model_validator(mode="after")
    def _cron(self) -> Schedule:
        check_cron(self.cron, self.with_seconds)
        for condition in leaves(self.conditions):
            if isinstance(condition, ExecutionCondition):
                raise ValueError(f"{condition.type} is a condition on an ended execution (a Flow trigger's), "
                                 "not on a Schedule's date")  # fmt: skip
        return self

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
