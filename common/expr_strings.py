"""The reference's string filters (Pebble's and Kestra's), with their semantics rather than Jinja2's.

`replace` takes a map of replacements (`regexp=true` for patterns, `$1` for groups), `substringBefore…`
a separator, `escapeChar` one of `single`, `double`, `shell`; `slugify` and `numberFormat` use
python-slugify and Babel (Java's `DecimalFormat` patterns are the Unicode patterns Babel reads).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from babel.numbers import format_decimal
from slugify import slugify as _slugify

from conveyor.common import regexps


class FilterError(ValueError):
    """A filter given an argument or input the reference refuses."""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def replace(value: Any, search: Any, replacement: Any = None, regexp: bool = False) -> Any:
    """`replace({'a': 'b', …}, regexp=false)`, or Jinja2's `replace('a', 'b')`."""
    if value is None:
        return None
    pairs = dict(search) if isinstance(search, Mapping) else {search: replacement}
    return _replace_in(value, pairs, bool(regexp))


def _replace_in(value: Any, pairs: dict[Any, Any], regexp: bool) -> Any:
    """As the reference: in a map or a list every value inside, other values as their text."""
    if isinstance(value, Mapping):
        return {k: _replace_in(v, pairs, regexp) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_in(v, pairs, regexp) for v in value]
    if value is None:
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else _text(value)
    for old, new in pairs.items():
        text = regexps.java_sub("replace", str(old), _text(new), text) if regexp else text.replace(str(old), _text(new))
    return text


def substring_before(value: Any, separator: Any) -> Any:
    text, sep = _text(value), _text(separator)
    return text.split(sep, 1)[0] if sep else ""


def substring_after(value: Any, separator: Any) -> Any:
    text, sep = _text(value), _text(separator)
    return text.split(sep, 1)[1] if sep and sep in text else ("" if sep else text)


def substring_before_last(value: Any, separator: Any) -> Any:
    text, sep = _text(value), _text(separator)
    return text.rsplit(sep, 1)[0] if sep and sep in text else text


def substring_after_last(value: Any, separator: Any) -> Any:
    text, sep = _text(value), _text(separator)
    return text.rsplit(sep, 1)[1] if sep and sep in text else ""


_ESCAPES = {
    "single": lambda s: s.replace("\\", "\\\\").replace("'", "\\'"),
    "double": lambda s: s.replace("\\", "\\\\").replace('"', '\\"'),
    "shell": lambda s: s.replace("'", "'\\''"),
}


def escape_char(value: Any, type: Any) -> Any:
    """`escapeChar('single' | 'double' | 'shell')`: the quotes of that kind escaped."""
    escape = _ESCAPES.get(str(type))
    if escape is None:
        raise FilterError(f"escapeChar: type must be one of single, double, shell, got {type!r}")
    return None if value is None else escape(str(value))


def slugify(value: Any) -> Any:
    return None if value is None else _slugify(str(value))


def urlencode(value: Any) -> str:
    """As Java's `URLEncoder` (UTF-8): a space is `+`."""
    return quote_plus(_text(value), safe="*")


def urldecode(value: Any) -> str:
    return unquote_plus(_text(value))


def starts_with(value: Any, prefix: Any) -> bool:
    return _text(value).startswith(_text(prefix))


def ends_with(value: Any, suffix: Any) -> bool:
    return _text(value).endswith(_text(suffix))


def number_format(value: Any, format: Any = "#,##0.###", locale: Any = "en_US") -> str:
    """`numberFormat('#.##')`: a `DecimalFormat` pattern (rounding half-even, like Java)."""
    try:
        return str(format_decimal(float(value), format=str(format), locale=str(locale)))
    except (TypeError, ValueError) as exc:
        raise FilterError(f"numberFormat: cannot format {value!r} with {format!r}: {exc}") from exc


def _indented(value: Any, amount: Any, prefix: Any) -> Any:
    if value is None:
        return None
    pad = _text(prefix) * int(amount)
    lines = re.split(r"(\r\n|\r|\n)", str(value))
    out = [lines[0]]
    for i in range(1, len(lines), 2):
        out.append(lines[i] + pad + lines[i + 1])
    return "".join(out)


def indent(value: Any, amount: Any, prefix: Any = " ") -> Any:
    """Every line but the first gets `amount` times `prefix` (blank lines too)."""
    return _indented(value, amount, prefix)


def nindent(value: Any, amount: Any, prefix: Any = " ") -> Any:
    """A line break (the input's own kind), then every line indented."""
    if value is None or value == "":
        return value
    text = str(value)
    newline = next((nl for nl in ("\r\n", "\n", "\r") if nl in text), "\n")
    return _indented(newline + text, amount, prefix)


def _digest(name: str) -> Any:
    return lambda value: hashlib.new(name, _text(value).encode()).hexdigest()


HASHES = {"md5": _digest("md5"), "sha1": _digest("sha1"), "sha256": _digest("sha256"), "sha512": _digest("sha512")}


def base64_encode(value: Any) -> str:
    return base64.b64encode(_text(value).encode()).decode()


def base64_decode(value: Any) -> str:
    return base64.b64decode(_text(value)).decode()


def abbreviate(value: Any, length: Any) -> Any:
    text, size = _text(value), int(length)
    return text if len(text) <= size else text[: max(size - 3, 0)] + "..."


def capitalize(value: Any) -> Any:
    """Pebble's: the first letter upper-cased, the rest as it is (Jinja2's lower-cases the rest)."""
    text = _text(value)
    return text[:1].upper() + text[1:]


def title(value: Any) -> Any:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), _text(value))


def split(value: Any, delimiter: Any, limit: Any = None) -> list[str] | None:
    """Pebble's `split(delimiter, limit)`: Java's `String.split`, so the delimiter is a Java regular expression
    (`split('\\\\.')` on a dot), a positive limit the most parts, 0 (the default) drops trailing empty parts."""
    if value is None:
        return None
    if delimiter is None:
        raise FilterError("missing delimiter parameter in split filter")
    return regexps.java_split("split", _text(delimiter), _text(value), 0 if limit is None else int(limit))
