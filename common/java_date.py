"""Java date patterns and named formats, as the reference's date filters take them (`DateTimeFormatter`).

`to_datetime(value, zone, existing)` reads what a flow hands a date filter: a `datetime`, a `date`, epoch
seconds (an int), or a string, parsed as an offset date-time, then a local date-time, then a local date
(the last two in `zone`), with `existing` (a pattern or a named format) when given. `format_datetime(when,
pattern, zone)` writes it in `zone`. Without a `timeZone` the zone is UTC (the reference takes the JVM's).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from email.utils import format_datetime as rfc_format
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates

# The reference's named formats, as Java patterns (the ISO ones it names after `DateTimeFormatter`).
NAMED = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
    "iso_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_offset_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_zoned_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_date": "yyyy-MM-ddXXX",
    "iso_time": "HH:mm:ss.SSSSSSXXX",
    "iso_local_date": "yyyy-MM-dd",
    "iso_local_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    "iso_local_time": "HH:mm:ss.SSSSSS",
    "iso_offset_time": "HH:mm:ss.SSSSSSXXX",
    "iso_ordinal_date": "yyyy-DDDXXX",
}
RFC_1123 = "rfc_1123_date_time"

# Java pattern letters to strftime, longest first; `S…` (fraction) and `XXX`/`X` (offset) are special.
_LETTERS = [
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "%-m"),
    ("DDD", "%j"),
    ("dd", "%d"),
    ("d", "%-d"),
    ("HH", "%H"),
    ("H", "%-H"),
    ("hh", "%I"),
    ("h", "%-I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("a", "%p"),
    ("Z", "%z"),
    ("z", "%Z"),
]
_FRACTION = re.compile(r"S+")
_OFFSET = re.compile(r"X{1,3}")


class DateError(ValueError):
    """A date that does not parse, or a zone or pattern the reference would refuse."""


def zone(name: Any) -> tzinfo:
    if name is None:
        return UTC
    try:
        return UTC if str(name) in ("UTC", "Z") else ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DateError(f"unknown timeZone {name!r}") from exc


def _tokens(pattern: str) -> list[tuple[str, str]]:
    """The pattern as (kind, text): `lit` for quoted or other text, `frac`, `offset`, or `code` (strftime)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(("lit", pattern[i + 1 : end] or "'"))
            i = end + 1
            continue
        special = _FRACTION.match(pattern, i) or _OFFSET.match(pattern, i)
        if special:
            out.append(("frac" if special.group()[0] == "S" else "offset", special.group()))
            i = special.end()
            continue
        java = next((j for j, _ in _LETTERS if pattern.startswith(j, i)), None)
        if java is None:
            out.append(("lit", pattern[i]))
            i += 1
            continue
        out.append(("code", dict(_LETTERS)[java]))
        i += len(java)
    return out


def _offset(when: datetime, width: int) -> str:
    delta = when.utcoffset()
    seconds = int(delta.total_seconds()) if delta is not None else 0
    if seconds == 0:
        return "Z"
    sign = "+" if seconds > 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    if width == 1:
        return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
    return f"{sign}{hours:02d}{':' if width == 3 else ''}{minutes:02d}"


def _locale(name: Any) -> Locale | None:
    """The `locale` argument (`fr`, `fr-FR`, `fr_FR`, a Java language tag); None: English, as strftime writes."""
    if name is None:
        return None
    try:
        return Locale.parse(str(name).replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise DateError(f"unknown locale {name!r}") from exc


def _named(when: datetime, code: str, locale: Locale) -> str | None:
    """Day, month and am/pm names in `locale` (Babel's CLDR names, as Java's); None for the other codes."""
    if code in ("%A", "%a"):
        return str(babel_dates.get_day_names("wide" if code == "%A" else "abbreviated", locale=locale)[when.weekday()])
    if code in ("%B", "%b"):
        return str(babel_dates.get_month_names("wide" if code == "%B" else "abbreviated", locale=locale)[when.month])
    if code == "%p":
        key = "am" if when.hour < 12 else "pm"
        return str(babel_dates.get_period_names(locale=locale).get(key, key.upper()))  # CLDR's root: AM/PM
    return None


def _piece(when: datetime, kind: str, text: str, locale: Locale | None = None) -> str:
    if kind == "code" and locale is not None:
        named = _named(when, text, locale)
        if named is not None:
            return named
    if kind == "lit":
        return text
    if kind == "frac":
        return f"{when.microsecond:06d}{'0' * 3}"[: len(text)]
    if kind == "offset":
        return _offset(when, len(text))
    return when.strftime(text)


def format_datetime(when: datetime, pattern: str | None = None, tz: Any = None, locale: Any = None) -> str:
    """`when` in the zone `tz` (UTC when None) written with a Java pattern or a named format; day and month
    names in `locale` when given."""
    when = when.astimezone(zone(tz))
    pattern = pattern or "iso"
    if pattern == RFC_1123:
        return (
            rfc_format(when.astimezone(UTC), usegmt=True)
            if when.utcoffset() == UTC.utcoffset(None)
            else rfc_format(when)
        )
    if pattern == "iso_instant":
        return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    java = NAMED.get(pattern, pattern)
    language = _locale(locale)
    return "".join(_piece(when, kind, text, language) for kind, text in _tokens(java))


def _strptime_pattern(pattern: str) -> str:
    parts = []
    for kind, text in _tokens(pattern):
        if kind == "lit":
            parts.append(text.replace("%", "%%"))
        elif kind == "frac":
            parts.append("%f")
        elif kind == "offset":
            parts.append("%z")
        else:
            parts.append(text.replace("-", ""))
    return "".join(parts)


def _parse(text: str, existing: str | None) -> datetime | date:
    if existing == RFC_1123:
        return parsedate_to_datetime(text)
    if existing is None:
        try:
            return (
                datetime.fromisoformat(text.replace("Z", "+00:00"))
                if "T" in text or " " in text
                else date.fromisoformat(text)
            )
        except ValueError as exc:
            raise DateError(f"cannot parse {text!r} as a date") from exc
    try:
        return datetime.strptime(text, _strptime_pattern(NAMED.get(existing, existing)))
    except ValueError as exc:
        raise DateError(f"cannot parse {text!r} with the format {existing!r}") from exc


def to_datetime(value: Any, tz: Any = None, existing: str | None = None) -> datetime:
    """A date the filters take, as an aware `datetime` (a local one is read in the zone `tz`)."""
    where = zone(tz)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).astimezone(where)
    parsed = value if isinstance(value, datetime | date) else _parse(str(value), existing)
    if not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, time())
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=where)


def iso(when: datetime) -> str:
    """An instant as the reference prints a date-time in JSON: ISO-8601, milliseconds, `Z` for UTC."""
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
