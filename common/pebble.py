"""The reference's expression syntax (Pebble) translated to Jinja2 before a template is compiled.

Pebble and Jinja2 share most of their syntax (`{{ }}`, `{% %}`, filters, `and`/`or`/`not`, `is` tests,
whitespace control). What differs is rewritten token by token inside `{{ }}` and `{% %}` blocks, never in
text, strings or comments:

| Pebble                | Jinja2                                  |
|-----------------------|-----------------------------------------|
| `c ? a : b`           | `(a if c else b)`                       |
| `a ?? b` / `a ??? b`  | `_coalesce(a, b)` / `_coalesce_undefined(a, b)` (undefined-safe) |
| `a equals b`          | `a == b`                                |
| `a contains b`        | `a is contains b`                       |
| `null`                | `none`                                  |
| `10l` (a long)        | `10`                                    |
| `{% elseif %}`        | `{% elif %}`                            |
| `{% verbatim %}`      | `{% raw %}`                             |
| `{% block "name" %}`  | `{% block name %}`                      |
| `block("name")`       | `self.name()`                           |
| `parent()`            | `super()`                               |
| `{% extends "a.peb" %}` | `{% extends _fn_extends("a.peb") %}` (a namespace file, `common/render.py`) |

A block that does not tokenize is left as written, so Jinja2 reports the syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_OPENER = re.compile(r"\{\{|\{%|\{#")
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<num>\d+(?:\.\d+)?(?:[lL](?![A-Za-z0-9_]))?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>\?\?\?|\?\?|\.\.|==|!=|<=|>=|//|\*\*|.)""",
    re.VERBOSE | re.DOTALL,
)
_CLOSE = {"(": ")", "[": "]", "{": "}"}
# A call of one of the reference's functions is renamed `_fn_NAME(`: in Pebble functions and variables do
# not shadow each other (`yaml(yaml)` calls the function on the variable), in Jinja2 a variable would.
FUNCTION_PREFIX = "_fn_"
COALESCE = "_coalesce"
COALESCE_UNDEFINED = "_coalesce_undefined"
# `{% extends "name" %}` names a namespace file: this function of the environment compiles it.
EXTENDS = "_fn_extends"


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str


def translate(template: str, functions: frozenset[str] = frozenset()) -> str:
    out: list[str] = []
    pos = 0
    while True:
        m = _OPENER.search(template, pos)
        if m is None:
            out.append(template[pos:])
            return "".join(out)
        out.append(template[pos : m.start()])
        if m.group() == "{#":
            end = template.find("#}", m.end())
            stop = len(template) if end < 0 else end + 2
            out.append(template[m.start() : stop])
            pos = stop
            continue
        tag = m.group() == "{%"
        start = m.end()
        if start < len(template) and template[start] in "-+":
            start += 1
        block = _scan(template, start, tag)
        if block is None:  # unterminated: Jinja2 says so
            out.append(template[m.start() :])
            return "".join(out)
        tokens, end = block
        close = template.index("%}" if tag else "}}", end) + 2
        if tag and _tag_name(tokens) in ("raw", "verbatim"):
            body_end, after = _raw_end(template, close, _tag_name(tokens) or "raw")
            out.append("{% raw %}" + template[close:body_end] + "{% endraw %}")
            pos = after
            continue
        body = _tag(tokens, functions) if tag else _expression(tokens, functions)
        out.append(template[m.start() : start] + _text(body) + template[end:close])
        pos = close


def _scan(template: str, pos: int, tag: bool) -> tuple[list[Tok], int] | None:
    """The block's tokens up to its closer (`}}` or `%}`, with an optional `-`), and where the closer starts."""
    closer = "%}" if tag else "}}"
    tokens: list[Tok] = []
    depth = 0
    while pos < len(template):
        if depth == 0 and (template.startswith(closer, pos) or template.startswith("-" + closer, pos)):
            return tokens, pos
        m = _TOKEN.match(template, pos)
        if m is None:  # pragma: no cover - `.` matches any character
            return None
        kind = m.lastgroup or "op"
        text = m.group()
        if kind == "str" and (len(text) < 2 or text[-1] != text[0]):
            return None
        if kind == "str":
            text = _string(text)
        if kind == "num":
            text = text.rstrip("lL")  # Pebble's long literal `10l` is an integer
        if text in _CLOSE:
            depth += 1
        elif text in _CLOSE.values():
            depth = max(depth - 1, 0)
        tokens.append(Tok(kind, text))
        pos = m.end()
    return None


# A backslash before anything else stays a backslash (`'(\d+)'` is a regular expression, as in Pebble).
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _string(text: str) -> str:
    """A string literal Jinja2 reads as Pebble does: an unknown escape and a raw carriage return kept."""
    kept = _ESCAPE.sub(lambda m: m.group() if m.group(1) in "\\'\"nrtu" else "\\" + m.group(), text)
    return kept.replace("\r", "\\r")


def _raw_end(template: str, pos: int, name: str) -> tuple[int, int]:
    m = re.compile(r"\{%-?\s*end" + name + r"\s*-?%\}").search(template, pos)
    if m is None:
        return len(template), len(template)
    return m.start(), m.end()


def _text(tokens: list[Tok]) -> str:
    return "".join(t.text for t in tokens)


def _tag_name(tokens: list[Tok]) -> str | None:
    return next((t.text for t in tokens if t.kind != "ws"), None)


def _tag(tokens: list[Tok], functions: frozenset[str]) -> list[Tok]:
    """A `{% %}` block: its name, then the expression part translated (`if`, `elif`, `set … =`, `for … in`)."""
    tokens = _words(tokens, functions)
    name = _tag_name(tokens)
    if name is None:
        return tokens
    head = next(i for i, t in enumerate(tokens) if t.kind != "ws")
    if name == "block":
        return _block_name(tokens, head)
    if name == "extends":
        rest = _convert(tokens[head + 1 :])
        return [*tokens[: head + 1], Tok("ws", " "), Tok("name", EXTENDS), Tok("op", "("), *rest, Tok("op", ")")]
    if name == "elseif":
        tokens = [*tokens[:head], Tok("name", "elif"), *tokens[head + 1 :]]
        name = "elif"
    split: int | None = None
    if name in ("if", "elif"):
        split = head
    elif name == "set":
        split = _find(tokens, lambda t: t.text == "=")
    elif name == "for":
        split = _find(tokens, lambda t: t.kind == "name" and t.text == "in")
    if split is None:
        return tokens
    return [*tokens[: split + 1], *_convert(tokens[split + 1 :])]


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _unquoted(tok: Tok) -> str | None:
    """The name a string token holds, when it is one Jinja2 can call a block."""
    if tok.kind != "str" or not _IDENTIFIER.fullmatch(tok.text[1:-1]):
        return None
    return tok.text[1:-1]


def _block_name(tokens: list[Tok], head: int) -> list[Tok]:
    """`{% block "post" %}`: Pebble's quoted block name, bare as Jinja2 takes it."""
    rest = [i for i in range(head + 1, len(tokens)) if tokens[i].kind != "ws"]
    name = _unquoted(tokens[rest[0]]) if rest else None
    if name is None:
        return tokens
    return [*tokens[: rest[0]], Tok("name", name), *tokens[rest[0] + 1 :]]


def _inheritance(tokens: list[Tok]) -> list[Tok]:
    """Pebble's `parent()` (the overridden block of the parent template) and `block("name")` (a block again)."""
    out: list[Tok] = []
    i = 0
    while i < len(tokens):
        tok, prev = tokens[i], _prev(out)
        ahead = [j for j in range(i + 1, len(tokens)) if tokens[j].kind != "ws"][:3]
        texts = [tokens[j].text for j in ahead]
        if tok.kind == "name" and not (prev is not None and prev.text in (".", "|")):
            if tok.text == "parent" and texts[:2] == ["(", ")"]:
                out += [Tok("name", "super"), Tok("op", "("), Tok("op", ")")]
                i = ahead[1] + 1
                continue
            name = _unquoted(tokens[ahead[1]]) if len(ahead) == 3 and texts[0] == "(" and texts[2] == ")" else None
            if tok.text == "block" and name is not None:
                out += [Tok("name", "self"), Tok("op", "."), Tok("name", name), Tok("op", "("), Tok("op", ")")]
                i = ahead[2] + 1
                continue
        out.append(tok)
        i += 1
    return out


def _expression(tokens: list[Tok], functions: frozenset[str]) -> list[Tok]:
    return _convert(_words(tokens, functions))


def _is_call(tokens: list[Tok], i: int, prev: Tok | None, functions: frozenset[str]) -> bool:
    after = _next(tokens, i)
    return tokens[i].text in functions and after is not None and after.text == "(" and not (prev and prev.text == "is")


def _words(tokens: list[Tok], functions: frozenset[str] = frozenset()) -> list[Tok]:
    """Pebble's word operators and literals that Jinja2 spells differently, and its function calls."""
    tokens = _inheritance(tokens)
    out: list[Tok] = []
    for i, tok in enumerate(tokens):
        prev = _prev(out)
        after_dot = prev is not None and prev.text in (".", "|")
        if tok.kind == "name" and not after_dot and _is_call(tokens, i, prev, functions):
            out.append(Tok("name", FUNCTION_PREFIX + tok.text))
            continue
        if tok.kind == "name" and not after_dot:
            if tok.text == "equals":
                out.append(Tok("op", "=="))
                continue
            if tok.text == "null":
                out.append(Tok("name", "none"))
                continue
            if tok.text == "contains" and _operand_end(prev) and _next(tokens, i) is not None:
                out += [Tok("name", "is"), Tok("ws", " "), tok]
                continue
        out.append(tok)
    return out


def _prev(tokens: list[Tok]) -> Tok | None:
    return next((t for t in reversed(tokens) if t.kind != "ws"), None)


def _next(tokens: list[Tok], i: int) -> Tok | None:
    return next((t for t in tokens[i + 1 :] if t.kind != "ws"), None)


def _operand_end(tok: Tok | None) -> bool:
    if tok is None:
        return False
    if tok.kind in ("str", "num"):
        return True
    if tok.kind == "name":
        return tok.text not in ("is", "not", "and", "or", "in", "if", "else")
    return tok.text in (")", "]", "}")


def _top(tokens: list[Tok]) -> list[int]:
    """The indexes of the tokens at bracket depth 0."""
    out = []
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.text in _CLOSE.values():
            depth -= 1
        if depth == 0:
            out.append(i)
        if tok.text in _CLOSE:
            depth += 1
    return out


def _find(tokens: list[Tok], pred: Callable[[Tok], bool], start: int = 0) -> int | None:
    """The index of the first token at bracket depth 0 (from `start`) for which `pred` holds."""
    return next((i for i in _top(tokens) if i >= start and pred(tokens[i])), None)


def _split(tokens: list[Tok], sep: str) -> list[list[Tok]]:
    parts: list[list[Tok]] = [[]]
    depth = 0
    for tok in tokens:
        if depth == 0 and tok.text == sep:
            parts.append([])
            continue
        if tok.text in _CLOSE:
            depth += 1
        elif tok.text in _CLOSE.values():
            depth -= 1
        parts[-1].append(tok)
    return parts


def _join(parts: list[list[Tok]], sep: str) -> list[Tok]:
    out: list[Tok] = []
    for i, part in enumerate(parts):
        if i:
            out.append(Tok("op", sep))
        out += part
    return out


def _convert(tokens: list[Tok]) -> list[Tok]:
    """A comma-separated list of expressions (a block, or the inside of brackets)."""
    return _join([_convert_one(part) for part in _split(tokens, ",")], ",")


def _convert_one(tokens: list[Tok]) -> list[Tok]:
    tokens = _groups(tokens)
    q = _find(tokens, lambda t: t.text == "?")
    if q is None:
        return _concat_filters(_coalesce(_range(tokens)))
    colon = _matching_colon(tokens, q + 1)
    if colon is None:
        return tokens  # not a ternary Jinja2 understands either: let it report the error
    cond, then, other = tokens[:q], tokens[q + 1 : colon], tokens[colon + 1 :]
    space = Tok("ws", " ")
    return [
        Tok("op", "("),
        *_convert_one(then),
        space,
        Tok("name", "if"),
        space,
        *_concat_filters(_coalesce(cond)),
        space,
        Tok("name", "else"),
        space,
        *_convert_one(other),
        Tok("op", ")"),
    ]


def _matching_colon(tokens: list[Tok], start: int) -> int | None:
    pending = 0
    i = start
    while True:
        found = _find(tokens, lambda t: t.text in ("?", ":"), i)
        if found is None:
            return None
        if tokens[found].text == "?":
            pending += 1
        elif pending == 0:
            return found
        else:
            pending -= 1
        i = found + 1


def _groups(tokens: list[Tok]) -> list[Tok]:
    """Translate inside every top-level bracket group; in `{…}` only the values of `key: value` pairs."""
    out: list[Tok] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.text not in _CLOSE:
            out.append(tok)
            i += 1
            continue
        end = _closing(tokens, i)
        if end is None:
            return out + tokens[i:]
        inner = tokens[i + 1 : end]
        inner = _join([_pair(entry) for entry in _split(inner, ",")], ",") if tok.text == "{" else _convert(inner)
        out += [tok, *inner, tokens[end]]
        i = end + 1
    return out


def _pair(entry: list[Tok]) -> list[Tok]:
    colon = _find(entry, lambda t: t.text == ":")
    if colon is None:
        return _convert_one(entry)
    return [*entry[: colon + 1], *_convert_one(entry[colon + 1 :])]


def _closing(tokens: list[Tok], i: int) -> int | None:
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].text in _CLOSE:
            depth += 1
        elif tokens[j].text in _CLOSE.values():
            depth -= 1
            if depth == 0:
                return j
    return None


def _range(tokens: list[Tok]) -> list[Tok]:
    """Pebble's range operator `a..b` as a call of the (inclusive) `range` function."""
    dots = _find(tokens, lambda t: t.text == "..")
    if dots is None:
        return tokens
    low, high = tokens[:dots], tokens[dots + 1 :]
    return [Tok("ws", " "), Tok("name", "range"), Tok("op", "("), *low, Tok("op", ","), *high, Tok("op", ")")]


def _coalesce(tokens: list[Tok]) -> list[Tok]:
    """`a ?? b ?? c` as nested `_coalesce(...)` calls, left to right. `??` binds tighter than every other binary
    operator, as in the reference (precedence 120; `|` is 100, `~` 110): its operands are the chains around it
    (`x.y[z](…)`, a literal, a group), a left one with the filters applied to it, so `a ?? b | date(…)` is
    `(a ?? b) | date(…)` and `'x' ~ a ?? b` is `'x' ~ (a ?? b)`."""
    while True:
        op = _find(tokens, lambda t: t.text in ("??", "???"))
        if op is None:
            return tokens
        start, end = _left_operand(tokens, op), _right_operand(tokens, op + 1)
        function = COALESCE if tokens[op].text == "??" else COALESCE_UNDEFINED
        left, right = tokens[start:op], tokens[op + 1 : end]
        call = [Tok("name", function), Tok("op", "("), *left, Tok("op", ","), *right, Tok("op", ")")]
        pad = [Tok("ws", " ")] if start == 0 or tokens[start - 1].kind != "ws" else []
        tokens = [*tokens[:start], *pad, *call, *tokens[end:]]


def _concat_filters(tokens: list[Tok]) -> list[Tok]:
    """`a ~ b | f` is `(a ~ b) | f` in the reference (`~` binds tighter than `|`, 110 against 100); Jinja2
    would apply `f` to `b` alone, so the concatenation before a filter is put in parentheses."""
    i = 0
    while True:
        bar = _find(tokens, lambda t: t.text == "|", i)
        if bar is None:
            return tokens
        start, crossed = _concat_start(tokens, bar)
        if crossed:
            tokens = [*tokens[:start], Tok("op", "("), *tokens[start:bar], Tok("op", ")"), *tokens[bar:]]
            bar += 2
        i = bar + 1


def _concat_start(tokens: list[Tok], bar: int) -> tuple[int, bool]:
    """The start of the operand a filter at `bar` applies to in the reference, and whether it holds a `~`."""
    crossed = False
    end = _skip_ws_back(tokens, bar - 1)
    if end < 0:
        return bar, False
    start = _chain_start(tokens, end)
    while True:
        op = _skip_ws_back(tokens, start - 1)
        if op < 1 or tokens[op].text not in ("~", "|"):
            return start, crossed
        before = _skip_ws_back(tokens, op - 1)
        if before < 0:
            return start, crossed
        crossed = crossed or tokens[op].text == "~"
        start = _chain_start(tokens, before)


_KEYWORDS = frozenset({"and", "or", "not", "is", "in", "if", "else"})


def _skip_ws_back(tokens: list[Tok], i: int) -> int:
    while i >= 0 and tokens[i].kind == "ws":
        i -= 1
    return i


def _chain_start(tokens: list[Tok], i: int) -> int:
    """Where the chain ending at token `i` (a name, literal or group with its `.x`, `[…]`, `(…)`) starts."""
    while True:
        tok = tokens[i]
        if tok.text in _CLOSE.values():
            i = _opening(tokens, i)
            prev = i - 1
            if tok.text != "}" and prev >= 0 and (tokens[prev].kind == "name" or tokens[prev].text in (")", "]")):
                i = prev
                continue
        elif not (tok.kind in ("str", "num") or (tok.kind == "name" and tok.text not in _KEYWORDS)):
            return i + 1
        if i >= 2 and tokens[i - 1].text == "." and tokens[i].kind == "name":
            i -= 2
            continue
        return i


def _left_operand(tokens: list[Tok], op: int) -> int:
    """The start of the left operand of the operator at `op`: its chain, and the filters applied to it."""
    end = _skip_ws_back(tokens, op - 1)
    if end < 0:
        return op
    start = _chain_start(tokens, end)
    bar = _skip_ws_back(tokens, start - 1)
    while bar >= 1 and tokens[bar].text == "|":
        before = _skip_ws_back(tokens, bar - 1)
        if before < 0:
            break
        start = _chain_start(tokens, before)
        bar = _skip_ws_back(tokens, start - 1)
    return start


def _right_operand(tokens: list[Tok], i: int) -> int:
    """The end (exclusive) of the operand starting after `i`: an optional `-`, then one chain."""
    while i < len(tokens) and tokens[i].kind == "ws":
        i += 1
    if i < len(tokens) and tokens[i].text == "-":
        i += 1
    if i >= len(tokens):
        return i
    i = (_closing(tokens, i) or i) + 1 if tokens[i].text in _CLOSE else i + 1
    while i < len(tokens):
        if tokens[i].text == "." and i + 1 < len(tokens) and tokens[i + 1].kind == "name":
            i += 2
        elif tokens[i].text in ("[", "("):
            i = (_closing(tokens, i) or i) + 1
        else:
            return i
    return i


def _opening(tokens: list[Tok], i: int) -> int:
    depth = 0
    for j in range(i, -1, -1):
        if tokens[j].text in _CLOSE.values():
            depth += 1
        elif tokens[j].text in _CLOSE:
            depth -= 1
            if depth == 0:
                return j
    return 0
