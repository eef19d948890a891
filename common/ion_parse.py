"""`fromIon(text)`: the value of an Amazon Ion text, as the reference's `fromIon` function reads it.

Own code (like `toIon` in `common/ion.py`), the whole text format: comments, `null` and typed nulls, `true`/
`false`, integers (decimal, `0x`, `0b`, `_` between digits), decimals (`1.5`, `1.5d-3`), floats (`1e0`, `nan`,
`+inf`, `-inf`), timestamps (`2024-04-21T23:00:00.000Z`, `2007T`, `2007-02-23`…), strings (short, long
`'''…'''` joined, every escape), symbols (identifiers, quoted, `$10`, operators in s-expressions), blobs and
clobs, lists, s-expressions, structs and annotations (`a::b::value`, dropped). The values are the JSON ones
the reference's Jackson reader gives: a decimal is a float, a timestamp an aware `datetime` (an unknown offset
`-00:00` is UTC), a symbol a string, an s-expression a list, a blob its base64 text, a clob its text.
Nesting deeper than `MAX_DEPTH` is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

MAX_DEPTH = 100


class IonError(ValueError):
    """Not Ion text: the message says where (offset) and what was expected."""


_WS = re.compile(r"(?:\s+|//[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_OPERATOR = re.compile(r"[!#%&*+\-./;<=>?@^`|~]+")
_TIMESTAMP = re.compile(
    r"(\d{4})(?:T|-(\d\d)(?:T|-(\d\d)(?:T(?:(\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?(Z|[+-]\d\d:\d\d))?)?)?)"
)
_DIGITS = r"\d(?:_?\d)*"
_NUMBER = re.compile(
    rf"-?(?:0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[bB][01](?:_?[01])*"
    rf"|(?:0|[1-9](?:_?\d)*)(?:\.(?:{_DIGITS})?)?(?:[eEdD][+-]?{_DIGITS})?)"
)
_STOP = re.compile(r"[\s,\]\)\}:]|//|/\*|'|\"|$")
_TYPED_NULLS = {
    "null",
    "bool",
    "int",
    "float",
    "decimal",
    "timestamp",
    "string",
    "symbol",
    "blob",
    "clob",
    "struct",
    "list",
    "sexp",
}
_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    "v": "\v",
    '"': '"',
    "'": "'",
    "?": "?",
    "\\": "\\",
    "/": "/",
}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> IonError:
        near = self.text[self.pos : self.pos + 20]
        return IonError(f"Invalid ion: {what} at offset {self.pos} (near {near!r})")

    def skip(self) -> None:
        m = _WS.match(self.text, self.pos)
        if m:
            self.pos = m.end()

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def expect(self, token: str) -> None:
        self.skip()
        if not self.peek(token):
            raise self.fail(f"expected {token!r}")
        self.pos += len(token)

    def at_end(self) -> bool:
        self.skip()
        return self.pos >= len(self.text)

    # -- values ---------------------------------------------------------------------------------------------

    def value(self, depth: int, in_sexp: bool = False) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH}")
        self.skip()
        while True:  # annotations: `a::b::value`
            start = self.pos
            name = self._symbol_text()
            if name is None:
                break
            self.skip()
            if self.peek("::"):
                self.pos += 2
                self.skip()
                continue
            self.pos = start
            break
        return self._bare(depth, in_sexp)

    def _bare(self, depth: int, in_sexp: bool) -> Any:
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.fail("expected a value")
        c = text[pos]
        if c == "{":
            if text.startswith("{{", pos):
                return self._lob()
            return self._struct(depth)
        if c == "[":
            return self._sequence("[", "]", depth, sexp=False)
        if c == "(":
            return self._sequence("(", ")", depth, sexp=True)
        if c == '"' or text.startswith("'''", pos):
            return self._string()
        if c == "'":
            return self._quoted_symbol()
        return self._scalar(in_sexp)

    def _scalar(self, in_sexp: bool) -> Any:
        text, pos = self.text, self.pos
        for special, number in (("+inf", float("inf")), ("-inf", float("-inf"))):
            if text.startswith(special, pos) and self._stops(pos + len(special)):
                self.pos += len(special)
                return number
        m = _TIMESTAMP.match(text, pos)
        if m and self._stops(m.end()):
            self.pos = m.end()
            return _timestamp(m, self)
        m = _NUMBER.match(text, pos)
        if m and m.end() > pos and text[pos : m.end()] != "-" and self._stops(m.end()):
            self.pos = m.end()
            return _number(m.group(0))
        m = _IDENT.match(text, pos)
        if m:
            self.pos = m.end()
            return self._keyword(m.group(0))
        if in_sexp:
            m = _OPERATOR.match(text, pos)
            if m:
                self.pos = m.end()
                return m.group(0)
        raise self.fail("expected a value")

    def _stops(self, end: int) -> bool:
        return _STOP.match(self.text, end) is not None or self.text.startswith("(", end)

    def _keyword(self, word: str) -> Any:
        if word == "null":
            if self.peek(".") and (m := _IDENT.match(self.text, self.pos + 1)) and m.group(0) in _TYPED_NULLS:
                self.pos = m.end()
            return None
        if word in ("true", "false"):
            return word == "true"
        if word == "nan":
            return float("nan")
        return word  # a symbol

    def _symbol_text(self) -> str | None:
        """A symbol at the position (identifier or quoted), consumed; None (nothing consumed) otherwise."""
        if self.peek("'") and not self.peek("'''"):
            return str(self._quoted_symbol())
        m = _IDENT.match(self.text, self.pos)
        if m and m.group(0) not in ("null", "true", "false", "nan"):
            self.pos = m.end()
            return m.group(0)
        return None

    def _struct(self, depth: int) -> dict[str, Any]:
        self.pos += 1
        found: dict[str, Any] = {}
        while True:
            self.skip()
            if self.peek("}"):
                self.pos += 1
                return found
            name = self._field_name()
            self.expect(":")
            found[name] = self.value(depth + 1)
            self.skip()
            if self.peek(","):
                self.pos += 1
            elif not self.peek("}"):
                raise self.fail("expected ',' or '}' in a struct")

    def _field_name(self) -> str:
        if self.peek('"') or self.peek("'''"):
            return self._string()
        if self.peek("'"):
            return self._quoted_symbol()
        m = _IDENT.match(self.text, self.pos)
        if not m:
            raise self.fail("expected a field name")
        self.pos = m.end()
        return m.group(0)

    def _sequence(self, open_: str, close: str, depth: int, *, sexp: bool) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        while True:
            self.skip()
            if self.peek(close):
                self.pos += 1
                return items
            items.append(self.value(depth + 1, in_sexp=sexp))
            self.skip()
            if sexp:
                continue
            if self.peek(","):
                self.pos += 1
            elif not self.peek(close):
                raise self.fail(f"expected ',' or {close!r} in a list")

    def _string(self) -> str:
        if self.peek('"'):
            return self._short('"')
        parts = []
        while True:  # '''a''' '''b''' is "ab"
            self.pos += 3
            parts.append(self._until("'''"))
            save = self.pos
            self.skip()
            if not self.peek("'''"):
                self.pos = save
                return "".join(parts)

    def _short(self, quote: str) -> str:
        self.pos += 1
        return self._until(quote)

    def _quoted_symbol(self) -> str:
        return self._short("'")

    def _until(self, end: str) -> str:
        text, out = self.text, list[str]()
        while True:
            if self.pos >= len(text):
                raise self.fail(f"unterminated text (expected {end!r})")
            if text.startswith(end, self.pos):
                self.pos += len(end)
                return "".join(out)
            c = text[self.pos]
            if c == "\\":
                out.append(self._escape())
                continue
            if c == "\n" and len(end) == 1:
                raise self.fail("a new line inside a short string")
            out.append(c)
            self.pos += 1

    def _escape(self) -> str:
        text = self.text
        self.pos += 1
        c = text[self.pos : self.pos + 1]
        if c in _ESCAPES:
            self.pos += 1
            return _ESCAPES[c]
        if c == "\n":
            self.pos += 1
            return ""
        size = {"x": 2, "u": 4, "U": 8}.get(c)
        if size is None:
            raise self.fail(f"unknown escape '\\{c}'")
        digits = text[self.pos + 1 : self.pos + 1 + size]
        if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise self.fail(f"expected {size} hex digits after '\\{c}'")
        self.pos += 1 + size
        try:
            return chr(int(digits, 16))
        except ValueError:
            raise self.fail("not a code point") from None

    def _lob(self) -> str:
        self.pos += 2
        self.skip()
        if self.peek('"') or self.peek("'''"):
            value = self._string()
        else:
            end = self.text.find("}}", self.pos)
            if end < 0:
                raise self.fail("unterminated blob")
            data = re.sub(r"\s+", "", self.text[self.pos : end])
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise self.fail("a blob that is not base64") from None
            self.pos, value = end, data
        self.expect("}}")
        return value


def _number(token: str) -> int | float:
    clean = token.replace("_", "")
    lower = clean.lower()
    if "0x" in lower:
        return int(clean, 16)
    if "0b" in lower:
        return int(clean, 2)
    if "." in clean or "e" in lower or "d" in lower:
        return float(lower.replace("d", "e"))
    return int(clean)


def _timestamp(m: re.Match[str], reader: _Reader) -> datetime:
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    try:
        zone: timezone = UTC
        if offset and offset not in ("Z", "-00:00"):
            sign = 1 if offset[0] == "+" else -1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        micro = int((fraction or ".0")[1:].ljust(6, "0")[:6])
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=zone,
        )
    except ValueError as exc:
        raise reader.fail(f"not a timestamp ({exc})") from None


def from_ion(text: Any) -> Any:
    """The first value of an Ion text (what follows it is not read, as the reference's reader of one value)."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise IonError(f"The 'fromIon' function expects an argument 'ion' with type string, got {type(text).__name__}")
    reader = _Reader(text)
    if reader.at_end():
        return None
    return reader.value(0)
