"""The body of `PUT /api/v1/namespaces/{ns}/kv/{key}`: one model per kvType, so that the OpenAPI document
says which values each type takes (a NUMBER is a JSON number, a DATE a `format: date` string...), and a
value that does not fit its type is a 422 naming `value` before anything is written."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
)

from conveyor.common.clock import parse_duration

# The ISO-8601 durations of days, hours, minutes and seconds, bounded so that no expiry overflows a date.
DURATION_PATTERN = r"^P(?=\d|T\d)(?:\d{1,5}D)?(?:T(?=\d)(?:\d{1,6}H)?(?:\d{1,7}M)?(?:\d{1,9}(?:\.\d{1,3})?S)?)?$"

# Any JSON value but null (deleting is how a key goes away).
AnyValue = StrictBool | StrictInt | StrictFloat | StrictStr | dict[str, Any] | list[Any]


class _Body(BaseModel):
    model_config = ConfigDict(regex_engine="python-re", extra="forbid")  # the duration pattern looks ahead

    ttl: str | None = Field(
        default=None,
        pattern=DURATION_PATTERN,
        description="ISO-8601 (`PT1H`, `P7D`, `P1DT12H`): the key expires this long after the write",
    )
    overwrite: StrictBool = Field(default=True, description="false: 409 when the key exists")
    description: str | None = Field(default=None, max_length=1000)

    def ttl_delta(self) -> Any:
        return parse_duration(self.ttl) if self.ttl is not None else None


class Untyped(_Body):
    """No `type`: the value's own (a map or a list is JSON)."""

    type: None = None
    value: AnyValue


class StringValue(_Body):
    type: Literal["STRING"]
    value: StrictStr


class NumberValue(_Body):
    type: Literal["NUMBER"]
    value: StrictInt | StrictFloat


class BooleanValue(_Body):
    type: Literal["BOOLEAN"]
    value: StrictBool


class JsonValue(_Body):
    type: Literal["JSON"]
    value: dict[str, Any] | list[Any]


class DateValue(_Body):
    type: Literal["DATE"]
    value: StrictStr = Field(json_schema_extra={"format": "date"})

    @field_validator("value")
    @classmethod
    def _date(cls, value: str) -> str:
        return date.fromisoformat(value).isoformat()


class DateTimeValue(_Body):
    type: Literal["DATETIME"]
    value: StrictStr = Field(json_schema_extra={"format": "date-time"})

    @field_validator("value")
    @classmethod
    def _datetime(cls, value: str) -> str:
        return datetime.fromisoformat(value).isoformat()


class DurationValue(_Body):
    type: Literal["DURATION"]
    value: StrictStr = Field(pattern=DURATION_PATTERN)


def _kind(body: Any) -> str | None:
    """The branch of a body: its `type`, `UNTYPED` without one (anything else is refused as a bad tag)."""
    found = body.get("type") if isinstance(body, dict) else getattr(body, "type", None)
    if found is None:
        return "UNTYPED"
    return found if isinstance(found, str) else None


KvBody = Annotated[
    Annotated[Untyped, Tag("UNTYPED")]
    | Annotated[StringValue, Tag("STRING")]
    | Annotated[NumberValue, Tag("NUMBER")]
    | Annotated[BooleanValue, Tag("BOOLEAN")]
    | Annotated[JsonValue, Tag("JSON")]
    | Annotated[DateValue, Tag("DATE")]
    | Annotated[DateTimeValue, Tag("DATETIME")]
    | Annotated[DurationValue, Tag("DURATION")],
    Discriminator(_kind),
    Field(description="the value and, optionally, its kvType, ttl, overwrite and description"),
]
