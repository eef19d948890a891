"""A value given for an input (a string from the CLI, a JSON value from the API or a default from the
flow) as its declared type, in JSON form: dates, times and durations stay ISO-8601 strings, JSON and YAML
become their values. A `ValueError` says what was expected, with the reference's wording."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from conveyor.common.render import to_json
from conveyor.common.storage.uri import StorageURIError, key_of


class InputType(StrEnum):
    STRING = "STRING"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    TIME = "TIME"
    DURATION = "DURATION"
    JSON = "JSON"
    YAML = "YAML"
    URI = "URI"
    EMAIL = "EMAIL"
    SELECT = "SELECT"
    MULTISELECT = "MULTISELECT"
    ENUM = "ENUM"
    ARRAY = "ARRAY"
    SECRET = "SECRET"
    FILE = "FILE"


# The reference's patterns (FlowInputOutput.URI_PATTERN, EmailInput.EMAIL_PATTERN).
URI_PATTERN = re.compile(
    r"^[a-z]+://(?:www\.)?[-a-zA-Z0-9@:%._+~#=]{1,256}\.[a-zA-Z0-9()]{1,6}\b(?:[-a-zA-Z0-9()@:%_+.~#?&/=]*)$"
)
EMAIL_PATTERN = re.compile(r"^$|^[a-zA-Z0-9_!#$%&\u2019*+/=?`{|}~^.-]+@[a-zA-Z0-9.-]+$")
_DURATION = TypeAdapter(timedelta)


def parse(kind: InputType, value: Any, item_type: InputType | None = None) -> Any:
    """`value` as `kind`; ARRAY and MULTISELECT items as `item_type`."""
    if kind in (InputType.ARRAY, InputType.MULTISELECT):
        return _items(value, item_type)
    return _PARSERS[kind](value)


def _items(value: Any, item_type: InputType | None) -> list[Any]:
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except ValueError:
            raise ValueError(f"expected a JSON list (ARRAY), got {_got(value)}") from None
    if not isinstance(items, list):
        raise ValueError(f"expected a JSON list (ARRAY), got {_got(value)}")
    if item_type is None:
        return items
    out = []
    for item in items:
        try:
            out.append(_PARSERS[item_type](item))
        except ValueError:
            raise ValueError(f"Unable to parse array element as `{item_type}` on `{item}`") from None
    return out


def _string(value: Any) -> str:
    return value if isinstance(value, str) else to_json(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected an integer (INT), got {_got(value)}")
    try:
        return int(value)
    except (ValueError, TypeError):
        raise ValueError(f"expected an integer (INT), got {_got(value)}") from None


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number (FLOAT), got {_got(value)}")
    try:
        return float(value)
    except (ValueError, TypeError):
        raise ValueError(f"expected a number (FLOAT), got {_got(value)}") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"expected true or false (BOOLEAN), got {_got(value)}")
    return text == "true"


def to_datetime(value: Any) -> datetime:
    text = value if isinstance(value, str) else str(value)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected an ISO-8601 date-time (DATETIME), got {_got(value)}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"expected a date-time with a time zone, e.g. Z (DATETIME), got {_got(value)}")
    return parsed


def _datetime(value: Any) -> str:
    return to_datetime(value).isoformat().replace("+00:00", "Z")


def to_date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD (DATE), got {_got(value)}") from None


def to_time(value: Any) -> time:
    try:
        parsed = time.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a time HH:MM[:SS] (TIME), got {_got(value)}") from None
    if parsed.tzinfo is not None:
        raise ValueError(f"expected a time without a time zone (TIME), got {_got(value)}")
    return parsed


def to_duration(value: Any) -> timedelta:
    if not isinstance(value, str) or not value.upper().startswith(("P", "-P")):
        raise ValueError(f"expected an ISO-8601 duration such as PT5M (DURATION), got {_got(value)}")
    try:
        return _DURATION.validate_python(value.upper())
    except ValidationError:
        raise ValueError(f"expected an ISO-8601 duration such as PT5M (DURATION), got {_got(value)}") from None


def iso_duration(delta: timedelta) -> str:
    """As Java's `Duration.toString()` writes it: `PT5M6S`, `PT36H`, `PT0.5S`."""
    total = delta.total_seconds()
    sign, total = ("-", -total) if total < 0 else ("", total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "PT" + (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
    if seconds or out == "PT":
        out += f"{seconds:g}S"
    return sign + out


def _duration(value: Any) -> str:
    return iso_duration(to_duration(value))


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ValueError(f"expected JSON, got {_got(value)} ({exc})") from None


def _yaml(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ValueError(f"expected YAML, got {_got(value)} ({exc})") from None


def _matching(kind: InputType, pattern: re.Pattern[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"expected {_EXPECTED[kind]} ({kind}), got {_got(value)}")
        return value

    return check


_EXPECTED = {InputType.URI: "a URI such as https://example.com/path", InputType.EMAIL: "an email address"}


def _got(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else to_json(value)
    return "`" + (text if len(text) <= limit else text[:limit] + "…") + "`"


def _file(value: Any) -> Any:
    """A FILE's value is its internal storage URI (the CLI and the API upload the file and pass its URI)."""
    try:
        key_of(value)
    except StorageURIError:
        raise ValueError(
            f"expected a file (an upload, or a kestra:/// storage URI), but received {_got(value)}"
        ) from None
    return value


_PARSERS: dict[InputType, Callable[[Any], Any]] = {
    InputType.STRING: _string,
    InputType.SELECT: _string,
    InputType.ENUM: _string,
    InputType.SECRET: _string,
    InputType.INT: _int,
    InputType.FLOAT: _float,
    InputType.BOOLEAN: _boolean,
    InputType.DATETIME: _datetime,
    InputType.DATE: lambda v: to_date(v).isoformat(),
    InputType.TIME: lambda v: to_time(v).isoformat(),
    InputType.DURATION: _duration,
    InputType.JSON: _json,
    InputType.YAML: _yaml,
    InputType.URI: _matching(InputType.URI, URI_PATTERN),
    InputType.EMAIL: _matching(InputType.EMAIL, EMAIL_PATTERN),
    InputType.FILE: _file,
}


# How values of the ordered types compare, for `min`/`max` and `after`/`before`.
ORDERS: dict[InputType, Callable[[Any], Any]] = {
    InputType.INT: float,
    InputType.FLOAT: float,
    InputType.DURATION: to_duration,
    InputType.DATE: to_date,
    InputType.TIME: to_time,
    InputType.DATETIME: to_datetime,
}
