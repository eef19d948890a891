"""`i18n(bundle, key, params)`: Pebble's message function, with the flow's namespace files as its bundles.

Pebble reads a Java `ResourceBundle` from its class path; a flow has no class path, so a bundle is a Java
`.properties` file (UTF-8, as Pebble reads them) among the namespace files: `i18n('messages', 'greeting')` looks
for `messages_<lang>_<COUNTRY>.properties`, `messages_<lang>.properties`, then `messages.properties` (a dotted
bundle `i18n.messages` is the folder `i18n/`), for the process's locale (`LC_ALL`, `LC_MESSAGES` or `LANG`,
where the JVM takes its default locale from). Without `params` the phrase is returned as written; with them
(one value or a list) it is formatted as Java's `MessageFormat` does (`{0}`, `{1,number}`, `''` for a quote,
`'{…}'` quoted), each argument written as text. A missing bundle or key fails the expression.
"""

from __future__ import annotations

import os
import re
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from conveyor.common import expr_files


class I18nError(ValueError):
    """No bundle, no key, or a phrase `MessageFormat` cannot read."""


def _locale() -> list[str]:
    """The suffixes to try, most specific first: `_fr_FR`, `_fr`, and `` (the base bundle)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            break
    code = value.split(".")[0].split("@")[0]
    if code in ("", "C", "POSIX"):
        return [""]
    lang, _, country = code.partition("_")
    return [f"_{lang}_{country}", f"_{lang}", ""] if country else [f"_{lang}", ""]


def parse_properties(text: str) -> dict[str, str]:
    """Java's `.properties` format: `key=value`, `key: value` or `key value`, `#`/`!` comments, `\\` at the end
    of a line to go on, and the escapes `\\n`, `\\t`, `\\uXXXX`…"""
    found: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if (len(line) - len(line.rstrip("\\"))) % 2 == 1:  # an odd number of `\` at the end: it goes on
            logical += line[:-1]
            continue
        logical += line
        m = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)", logical, re.S)
        if m is not None:
            found[_unescape(m.group(1))] = _unescape(m.group(2))
        logical = ""
    return found


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    return re.sub(
        r"\\u([0-9a-fA-F]{4})|\\(.)",
        lambda m: chr(int(m.group(1), 16)) if m.group(1) else _ESCAPES.get(m.group(2), m.group(2)),
        text,
        flags=re.S,
    )


def message_format(pattern: str, args: list[Any]) -> str:
    """Java's `MessageFormat.format(pattern, args)` for text arguments (`{n}` and `{n,type…}`, quotes)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            end = pattern.find("'", i + 1)
            if end == i + 1:
                out.append("'")
            else:
                out.append(pattern[i + 1 :] if end < 0 else pattern[i + 1 : end])
            i = len(pattern) if end < 0 else end + 1
        elif c == "{":
            end = pattern.find("}", i)
            m = re.fullmatch(r"\s*(\d+)\s*(?:,.*)?", pattern[i + 1 : end] if end > 0 else "", re.S)
            if m is None:
                raise I18nError(f"i18n: cannot format {pattern!r}: a bad argument at index {i}")
            n = int(m.group(1))
            out.append(_text(args[n]) if n < len(args) else "{" + str(n) + "}")
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


@pass_context
def i18n(ctx: Context, bundle: Any, key: Any, params: Any = None) -> str:
    base = str(bundle).replace(".", "/")
    phrases = None
    for suffix in _locale():
        try:
            phrases = parse_properties(expr_files.read_namespace_file(ctx, f"{base}{suffix}.properties"))
        except ValueError as exc:
            if "no namespace file" in str(exc):
                continue
            raise
        if str(key) in phrases:
            break
    if phrases is None:
        raise I18nError(f"i18n: Can't find bundle for base name {bundle} (no namespace file {base}.properties)")
    if str(key) not in phrases:
        raise I18nError(f"i18n: Can't find resource for bundle {bundle}, key {key}")
    phrase = phrases[str(key)]
    if params is None:
        return phrase
    return message_format(phrase, list(params) if isinstance(params, list | tuple) else [params])


FUNCTIONS = {"i18n": i18n}
