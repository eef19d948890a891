"""A small, pure-Python subset of jq for the `jq('…')` expression filter (the reference's `jq` filter).

`jq(value, program)` returns every output of `program` run on `value` as a list, as the reference does
(a string input is parsed as JSON first when it is JSON). Pure Python on purpose: the C library's `env`
and `$ENV` would hand a flow the worker's environment.

Limits (`JqSettings`: `CONVEYOR_JQ_TIMEOUT`, `CONVEYOR_JQ_MAX_RESULT`): one run may take so long and produce so
many values (counted as they are made, so `[range(20000000)]` stops at the limit, quickly); past either it
raises `JqError` naming the limit, and the expression, so its task run, fails.

Supported: `.`, `..`, `.a`, `."a"`, `.[n]`, `.["a"]`, `.[]`, `.[n:m]`, the `?` suffix, `|`, `,`, `//`,
arithmetic, comparisons, `and`/`or`/`not`, literals, `[…]` and `{…}` construction, `(…)`, `if … then
… elif … else … end`, and the builtins in `_BUILTINS` plus `select`, `map`, `has`, `join`, `split`,
`startswith`, `endswith`, `contains`, `ltrimstr`, `rtrimstr`, `sort_by`, `min_by`, `max_by`, `range`, `empty`.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import itertools
import json
import math
import operator
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import quote

from conveyor.common import regexps
from conveyor.common.settings import JqSettings

Node = tuple[Any, ...]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
    | (?P<format>@[a-z0-9]+)
    | (?P<var>\$[A-Za-z_][A-Za-z0-9_]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>\.\.|//|==|!=|<=|>=|\?\?|[.\[\]{}()|,:;<>+\-*/%?])
    )""",
    re.VERBOSE,
)


class JqError(ValueError):
    """The program does not parse, or fails on its input (e.g. `.a` of a number)."""


@dataclass(frozen=True)
class Limits:
    timeout: float
    max_result: int


@cache
def default_limits() -> Limits:
    settings = JqSettings()
    return Limits(settings.timeout, settings.max_result)


class _Budget:
    """What one run may still spend: values to produce, and time (checked every `_EVERY` values)."""

    _EVERY = 512

    def __init__(self, program: str, limits: Limits) -> None:
        self.program = program
        self.limits = limits
        self.left = limits.max_result
        self.deadline = time.monotonic() + limits.timeout

    def tick(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise JqError(
                f"jq: {self.program!r} produced more than {self.limits.max_result} values "
                "(limit CONVEYOR_JQ_MAX_RESULT exceeded)"
            )
        if self.left % self._EVERY == 0 and time.monotonic() > self.deadline:
            raise JqError(
                f"jq: {self.program!r} ran longer than {self.limits.timeout:g} s (limit CONVEYOR_JQ_TIMEOUT exceeded)"
            )


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("jq_budget", default=None)


def jq(value: Any, program: str, limits: Limits | None = None) -> list[Any]:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    token = _BUDGET.set(_Budget(program, limits or default_limits()))
    try:
        return list(_eval(_compile(program), value))
    except RecursionError as exc:
        raise JqError(f"jq: {program!r} nests too deep") from exc
    finally:
        _BUDGET.reset(token)


@lru_cache(maxsize=512)
def _compile(program: str) -> Node:
    parser = _Parser(program)
    node = parser.pipe()
    if parser.peek() is not None:
        raise JqError(f"jq: unexpected {parser.peek()!r} in {program!r}")
    return node


@dataclass
class _Tok:
    kind: str
    text: str


class _Parser:
    def __init__(self, program: str) -> None:
        self.program = program
        self.tokens: list[_Tok] = []
        pos = 0
        while pos < len(program):
            if program[pos:].strip() == "":
                break
            m = _TOKEN.match(program, pos)
            if m is None or m.end() == pos:
                raise JqError(f"jq: cannot parse {program!r} at {program[pos:]!r}")
            kind = m.lastgroup or "op"
            self.tokens.append(_Tok(kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self, offset: int = 0) -> str | None:
        j = self.i + offset
        return self.tokens[j].text if j < len(self.tokens) else None

    def next(self) -> _Tok:
        if self.i >= len(self.tokens):
            raise JqError(f"jq: unexpected end of {self.program!r}")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.next()
        if tok.text != text:
            raise JqError(f"jq: expected {text!r}, got {tok.text!r} in {self.program!r}")

    # precedence, lowest first: | , // or and comparison +- */%
    def pipe(self) -> Node:
        left = self.comma()
        if self.peek() == "as":  # `source as $name | body`: body runs once per value, with $name bound to it
            self.next()
            name = self.variable()
            self.expect("|")
            return ("bind", left, name, self.pipe())
        while self.peek() == "|":
            self.next()
            left = ("pipe", left, self.comma())
        return left

    def variable(self) -> str:
        tok = self.next()
        if tok.kind != "var":
            raise JqError(f"jq: expected a $variable, got {tok.text!r} in {self.program!r}")
        return tok.text

    def reduce(self) -> Node:
        """`reduce source as $name (init; update)`."""
        source = self.postfix()
        self.expect("as")
        name = self.variable()
        self.expect("(")
        init = self.pipe()
        self.expect(";")
        update = self.pipe()
        self.expect(")")
        return ("reduce", source, name, init, update)

    def comma(self) -> Node:
        left = self.alt()
        while self.peek() == ",":
            self.next()
            left = ("comma", left, self.alt())
        return left

    def alt(self) -> Node:
        left = self.or_()
        while self.peek() == "//":
            self.next()
            left = ("alt", left, self.or_())
        return left

    def or_(self) -> Node:
        left = self.and_()
        while self.peek() == "or":
            self.next()
            left = ("or", left, self.and_())
        return left

    def and_(self) -> Node:
        left = self.compare()
        while self.peek() == "and":
            self.next()
            left = ("and", left, self.compare())
        return left

    def compare(self) -> Node:
        left = self.additive()
        if self.peek() in ("==", "!=", "<", "<=", ">", ">="):
            op = self.next().text
            left = ("bin", op, left, self.additive())
        return left

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.peek() in ("+", "-"):
            op = self.next().text
            left = ("bin", op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Node:
        left = self.postfix()
        while self.peek() in ("*", "/", "%"):
            op = self.next().text
            left = ("bin", op, left, self.postfix())
        return left

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            nxt = self.peek()
            if nxt is None:
                return node
            tok = self.tokens[self.i]
            if tok.kind == "field":
                self.next()
                node = ("index", node, ("lit", tok.text[1:]), False)
            elif nxt == "." and self.peek(1) is not None and self.tokens[self.i + 1].kind == "str":
                self.next()
                node = ("index", node, ("lit", json.loads(self.next().text)), False)
            elif nxt == "[" or (nxt == "." and self.peek(1) == "["):
                if nxt == ".":
                    self.next()
                node = self.brackets(node)
            elif nxt == "?":
                self.next()
                node = ("try", node)
            else:
                return node

    def brackets(self, target: Node) -> Node:
        self.expect("[")
        if self.peek() == "]":
            self.next()
            return ("each", target)
        start = None if self.peek() == ":" else self.pipe()
        if self.peek() == ":":
            self.next()
            end = None if self.peek() == "]" else self.pipe()
            self.expect("]")
            return ("slice", target, start, end)
        self.expect("]")
        assert start is not None
        return ("index", target, start, False)

    def primary(self) -> Node:
        tok = self.next()
        if tok.kind in ("num", "str", "field"):
            return self.literal(tok)
        if tok.kind == "name":
            return self.name(tok.text)
        if tok.kind == "format":
            return ("call", tok.text, ())
        if tok.kind == "var":
            if tok.text in ("$ENV", "$__loc__", "$__prog_args"):
                raise JqError(f"jq: {tok.text} is not available to flows")
            return ("var", tok.text)
        return self.punctuation(tok.text)

    def literal(self, tok: _Tok) -> Node:
        text = tok.text
        if tok.kind == "num":
            return ("lit", float(text) if any(c in text for c in ".eE") else int(text))
        if tok.kind == "str":
            return ("lit", json.loads(text))
        return ("index", ("id",), ("lit", text[1:]), False)  # a field: `.name`

    def punctuation(self, text: str) -> Node:
        if text == ".":
            return self.dot()
        if text == "..":
            return ("recurse",)
        if text == "(":
            node = self.pipe()
            self.expect(")")
            return node
        if text == "[":
            return self.array()
        if text == "{":
            return self.object()
        if text == "-":
            return ("bin", "-", ("lit", 0), self.postfix())
        raise JqError(f"jq: unexpected {text!r} in {self.program!r}")

    def dot(self) -> Node:
        nxt = self.peek()
        if nxt is not None and self.tokens[self.i].kind == "str":
            return ("index", ("id",), ("lit", json.loads(self.next().text)), False)
        if nxt == "[":
            return self.brackets(("id",))
        return ("id",)

    def array(self) -> Node:
        if self.peek() == "]":
            self.next()
            return ("array", None)
        node = self.pipe()
        self.expect("]")
        return ("array", node)

    def name(self, text: str) -> Node:
        if text in ("null", "true", "false"):
            return ("lit", {"null": None, "true": True, "false": False}[text])
        if text == "if":
            return self.conditional()
        if text == "reduce":
            return self.reduce()
        args: list[Node] = []
        if self.peek() == "(":
            self.next()
            args.append(self.pipe())
            while self.peek() == ";":
                self.next()
                args.append(self.pipe())
            self.expect(")")
        return ("call", text, tuple(args))

    def conditional(self) -> Node:
        cond = self.pipe()
        self.expect("then")
        then = self.pipe()
        if self.peek() == "elif":
            self.next()
            return ("if", cond, then, self.conditional())
        otherwise: Node = ("id",)
        if self.peek() == "else":
            self.next()
            otherwise = self.pipe()
        self.expect("end")
        return ("if", cond, then, otherwise)

    def object(self) -> Node:
        entries: list[tuple[Node, Node]] = []
        while self.peek() != "}":
            tok = self.next()
            if tok.kind in ("name", "str"):
                key: Node = ("lit", tok.text if tok.kind == "name" else json.loads(tok.text))
            elif tok.text == "(":
                key = self.pipe()
                self.expect(")")
            else:
                raise JqError(f"jq: bad object key {tok.text!r} in {self.program!r}")
            if self.peek() == ":":
                self.next()
                value = self.alt()
            else:
                value = ("index", ("id",), key, False)
            entries.append((key, value))
            if self.peek() == ",":
                self.next()
        self.expect("}")
        return ("object", tuple(entries))


def _eval(node: Node, value: Any) -> Iterator[Any]:
    evaluate = _EVALUATORS.get(node[0])
    if evaluate is None:  # pragma: no cover - the parser makes no other node
        raise JqError(f"jq: unknown node {node[0]}")
    budget = _BUDGET.get()
    for out in evaluate(node, value):
        if budget is not None:
            budget.tick()
        yield out


def _eval_id(node: Node, value: Any) -> Iterator[Any]:
    yield value


def _eval_lit(node: Node, value: Any) -> Iterator[Any]:
    yield node[1]


def _eval_pipe(node: Node, value: Any) -> Iterator[Any]:
    for mid in _eval(node[1], value):
        yield from _eval(node[2], mid)


def _eval_comma(node: Node, value: Any) -> Iterator[Any]:
    yield from _eval(node[1], value)
    yield from _eval(node[2], value)


def _eval_alt(node: Node, value: Any) -> Iterator[Any]:
    good = [v for v in _eval(node[1], value) if v is not None and v is not False]
    yield from good if good else _eval(node[2], value)


def _eval_logic(node: Node, value: Any) -> Iterator[Any]:
    """`and` / `or`: the right side runs only when the left one does not decide."""
    decided_by = node[0] == "or"  # `or` is decided by a true left side, `and` by a false one
    for left in _eval(node[1], value):
        if _truthy(left) == decided_by:
            yield decided_by
        else:
            for right in _eval(node[2], value):
                yield _truthy(right)


def _eval_bin(node: Node, value: Any) -> Iterator[Any]:
    for right in _eval(node[3], value):
        for left in _eval(node[2], value):
            yield _binary(node[1], left, right)


def _eval_index(node: Node, value: Any) -> Iterator[Any]:
    for target in _eval(node[1], value):
        for key in _eval(node[2], value):
            yield _index(target, key)


def _eval_slice(node: Node, value: Any) -> Iterator[Any]:
    for target in _eval(node[1], value):
        starts = [None] if node[2] is None else list(_eval(node[2], value))
        ends = [None] if node[3] is None else list(_eval(node[3], value))
        for start, end in itertools.product(starts, ends):
            yield _slice(target, start, end)


def _eval_each(node: Node, value: Any) -> Iterator[Any]:
    for target in _eval(node[1], value):
        yield from _values(target)


def _eval_array(node: Node, value: Any) -> Iterator[Any]:
    yield [] if node[1] is None else list(_eval(node[1], value))


def _eval_if(node: Node, value: Any) -> Iterator[Any]:
    for cond in _eval(node[1], value):
        yield from _eval(node[2] if _truthy(cond) else node[3], value)


_EVALUATORS: dict[str, Callable[[Node, Any], Iterator[Any]]] = {
    "id": _eval_id,
    "lit": _eval_lit,
    "pipe": _eval_pipe,
    "comma": _eval_comma,
    "alt": _eval_alt,
    "and": _eval_logic,
    "or": _eval_logic,
    "bin": _eval_bin,
    "index": _eval_index,
    "slice": _eval_slice,
    "each": _eval_each,
    "try": lambda node, value: _eval_try(node, value),
    "recurse": lambda node, value: _recurse(value),
    "array": _eval_array,
    "object": lambda node, value: _object(node[1], value),
    "if": _eval_if,
    "call": lambda node, value: _call(node[1], node[2], value),
    "var": lambda node, value: _eval_var(node),
    "bind": lambda node, value: _eval_bind(node, value),
    "reduce": lambda node, value: _eval_reduce(node, value),
}


# The $variables bound where a program runs (`as $x`, `reduce … as $x`).
_VARS: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("jq_vars", default={})  # noqa: B039 - never mutated


def _bound(name: str, bound: Any, node: Node, value: Any) -> list[Any]:
    """The outputs of `node` on `value` with `name` bound (computed while it is: generators are lazy)."""
    token = _VARS.set({**_VARS.get(), name: bound})
    try:
        return list(_eval(node, value))
    finally:
        _VARS.reset(token)


def _eval_var(node: Node) -> Iterator[Any]:
    bound = _VARS.get()
    if node[1] not in bound:
        raise JqError(f"jq: {node[1]} is not defined")
    yield bound[node[1]]


def _eval_bind(node: Node, value: Any) -> Iterator[Any]:
    for bound in _eval(node[1], value):
        yield from _bound(node[2], bound, node[3], value)


def _eval_reduce(node: Node, value: Any) -> Iterator[Any]:
    for acc in _eval(node[3], value):
        for bound in _eval(node[1], value):
            outs = _bound(node[2], bound, node[4], acc)
            acc = outs[-1] if outs else None
        yield acc


def _eval_try(node: Node, value: Any) -> Iterator[Any]:
    """`a.b?`: the `?` covers its own step (`.b`), not what comes before it (`a`), as in jq."""
    inner = node[1]
    if inner[0] in ("index", "slice", "each") and inner[1] != ("id",) and all(_is_lit(n) for n in inner[2:4]):
        for target in _eval(inner[1], value):
            yield from _try((inner[0], ("id",), *inner[2:]), target)
        return
    yield from _try(inner, value)


def _is_lit(node: Any) -> bool:
    return node is None or isinstance(node, bool) or (isinstance(node, tuple) and node[0] == "lit")


def _try(node: Node, value: Any) -> Iterator[Any]:
    try:
        yield from list(_eval(node, value))
    except JqError:
        return


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _index(target: Any, key: Any) -> Any:
    if target is None:
        return None
    if isinstance(target, dict) and isinstance(key, str):
        return target.get(key)
    if isinstance(target, list) and isinstance(key, int | float) and not isinstance(key, bool):
        i = int(key)
        return target[i] if -len(target) <= i < len(target) else None
    raise JqError(f"jq: cannot index {_type(target)} with {json.dumps(key)}")


def _slice(target: Any, start: Any, end: Any) -> Any:
    if target is None:
        return None
    if not isinstance(target, list | str):
        raise JqError(f"jq: cannot slice {_type(target)}")
    return target[None if start is None else int(start) : None if end is None else int(end)]


def _values(target: Any) -> Iterator[Any]:
    if isinstance(target, list):
        yield from target
    elif isinstance(target, dict):
        yield from target.values()
    else:
        raise JqError(f"jq: cannot iterate over {_type(target)}")


def _recurse(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, list | dict):
        for child in _values(value):
            yield from _recurse(child)


def _object(entries: tuple[tuple[Node, Node], ...], value: Any) -> Iterator[Any]:
    choices: list[list[tuple[str, Any]]] = []
    for key_node, value_node in entries:
        pairs: list[tuple[str, Any]] = []
        for key in _eval(key_node, value):
            if not isinstance(key, str):
                raise JqError(f"jq: object keys must be strings, got {_type(key)}")
            pairs.extend((key, v) for v in _eval(value_node, value))
        choices.append(pairs)
    for combination in itertools.product(*choices):
        yield dict(combination)


def _binary(op: str, left: Any, right: Any) -> Any:
    if op in ("==", "!="):
        return (left == right) == (op == "==")
    if op in _COMPARISONS:
        return _COMPARISONS[op](_order_key(left), _order_key(right))
    arithmetic = _ARITHMETIC.get(op)
    if arithmetic is None:
        raise JqError(f"jq: unknown operator {op}")
    try:
        return arithmetic(left, right)
    except (TypeError, ZeroDivisionError) as exc:
        raise JqError(f"jq: {_type(left)} {op} {_type(right)} cannot be computed") from exc


def _plus(left: Any, right: Any) -> Any:
    """null is the identity; objects merge (the right one wins)."""
    if left is None:
        return right
    if right is None:
        return left
    if isinstance(left, dict) and isinstance(right, dict):
        return {**left, **right}
    return left + right


def _minus(left: Any, right: Any) -> Any:
    if isinstance(left, list) and isinstance(right, list):
        return [x for x in left if x not in right]
    return left - right


def _divide(left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        return left.split(right)
    result = left / right
    return int(result) if isinstance(result, float) and result.is_integer() else result


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": _plus,
    "-": _minus,
    "*": operator.mul,
    "/": _divide,
    "%": lambda left, right: int(left) % int(right),
}


_ORDER = {"null": 0, "boolean": 1, "number": 2, "string": 3, "array": 4, "object": 5}


def _order_key(value: Any) -> Any:
    kind = _type(value)
    if kind == "array":
        return (_ORDER[kind], [_order_key(v) for v in value])
    if kind == "object":
        return (_ORDER[kind], sorted((k, _order_key(v)) for k, v in value.items()))
    return (_ORDER[kind], value if value is not None else 0)


def _length(v: Any) -> Any:
    if v is None:
        return 0
    if isinstance(v, bool):
        raise JqError("jq: boolean has no length")
    if isinstance(v, int | float):
        return abs(v)
    return len(v)


def _keys(v: Any) -> Any:
    if isinstance(v, dict):
        return sorted(v)
    if isinstance(v, list):
        return list(range(len(v)))
    raise JqError(f"jq: {_type(v)} has no keys")


def _tonumber(v: Any) -> Any:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v
    try:
        number = float(v)
    except (TypeError, ValueError) as exc:
        raise JqError(f"jq: cannot parse {v!r} as a number") from exc
    return int(number) if number.is_integer() and "." not in str(v) else number


def _unique(ordered: list[Any]) -> list[Any]:
    return [x for i, x in enumerate(ordered) if i == 0 or x != ordered[i - 1]]


def _add(v: Any) -> Any:
    total = None
    for item in _values(v):
        total = _binary("+", total, item)
    return total


_BUILTINS: dict[str, Callable[[Any], Any]] = {
    "length": _length,
    "keys": _keys,
    "keys_unsorted": lambda v: list(v) if isinstance(v, dict) else _keys(v),
    "values": lambda v: list(_values(v)),
    "type": _type,
    "not": lambda v: not _truthy(v),
    "tostring": lambda v: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")),
    "tojson": lambda v: json.dumps(v, separators=(",", ":")),
    "fromjson": lambda v: json.loads(v),
    "tonumber": _tonumber,
    "ascii_downcase": lambda v: _string(v, "ascii_downcase").lower(),
    "ascii_upcase": lambda v: _string(v, "ascii_upcase").upper(),
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "reverse": lambda v: v[::-1] if v is not None else [],
    "sort": lambda v: sorted(v, key=_order_key),
    "unique": lambda v: _unique(sorted(v, key=_order_key)),
    "min": lambda v: min(v, key=_order_key) if v else None,
    "max": lambda v: max(v, key=_order_key) if v else None,
    "add": _add,
    "floor": lambda v: math.floor(v),
    "to_entries": lambda v: [{"key": k, "value": x} for k, x in v.items()],
    "any": lambda v: any(_truthy(x) for x in _values(v)),
    "all": lambda v: all(_truthy(x) for x in _values(v)),
    "@json": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
    "@text": lambda v: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")),
    "@csv": lambda v: ",".join(_csv_field(x) for x in v),
    "@base64": lambda v: base64.b64encode(_text(v).encode()).decode(),
    "@uri": lambda v: quote(_text(v), safe="-_.~"),
    "from_entries": lambda v: {str(e.get("key", e.get("name"))): e.get("value") for e in v},
}


def _string(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise JqError(f"jq: {name} needs a string, got {_type(v)}")
    return v


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def _csv_field(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace('"', '""') + '"'
    if isinstance(v, list | dict):
        raise JqError(f"jq: {_type(v)} is not valid in a csv row")
    return "" if v is None else json.dumps(v)


def _call(name: str, args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    if not args and name in _BUILTINS:
        yield _builtin(name, value)
        return
    form = _FORMS.get((name, len(args)))
    if form is not None:
        yield from form(args, value)
        return
    if len(args) == 1:
        for arg in _eval(args[0], value):
            yield _with_arg(name, value, arg)
        return
    raise JqError(f"jq: unknown function {name}/{len(args)}")


def _builtin(name: str, value: Any) -> Any:
    try:
        return _BUILTINS[name](value)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise JqError(f"jq: {name} of {_type(value)} failed: {exc}") from exc


def _empty(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    yield from ()


def _select(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    if any(_truthy(c) for c in _eval(args[0], value)):
        yield value


def _map(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    yield [out for item in _values(value) for out in _eval(args[0], item)]


def _range(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    bounds = [next(iter(_eval(a, value))) for a in args]
    yield from range(*(int(b) for b in bounds))


def _ranked(args: tuple[Node, ...], value: Any) -> list[Any]:
    return sorted(_values(value), key=lambda item: _order_key(list(_eval(args[0], item))))


def _sort_by(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    yield _ranked(args, value)


def _min_by(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    ranked = _ranked(args, value)
    yield ranked[0] if ranked else None


def _max_by(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    ranked = _ranked(args, value)
    yield ranked[-1] if ranked else None


def _limit(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    for n in _eval(args[0], value):
        if int(n) > 0:
            yield from itertools.islice(_eval(args[1], value), int(n))


def _group_by(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    groups: list[list[Any]] = []
    keys: list[Any] = []
    for item in _ranked(args, value):
        key = list(_eval(args[0], item))
        if not keys or keys[-1] != key:
            keys.append(key)
            groups.append([])
        groups[-1].append(item)
    yield groups


def _any(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    yield any(_truthy(c) for item in _values(value) for c in _eval(args[0], item))


def _all(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    yield all(_truthy(c) for item in _values(value) for c in _eval(args[0], item))


def _regex(name: str, args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    if not isinstance(value, str):
        raise JqError(f"jq: {name} needs a string, got {_type(value)}")
    try:
        for pattern in _eval(args[0], value):
            if name == "test":
                yield regexps.search(f"jq: {name}", str(pattern), value)
                continue
            for replacement in _eval(args[1], value):
                literal = str(replacement).replace("\\", "\\\\")
                yield regexps.sub(f"jq: {name}", str(pattern), literal, value, count=1 if name == "sub" else 0)
    except regexps.RegexpError as exc:
        raise JqError(str(exc)) from exc


def _splits(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    try:
        for sep in _eval(args[0], value):
            yield from regexps.split("jq: splits", str(sep), _string(value, "splits"))
    except regexps.RegexpError as exc:
        raise JqError(str(exc)) from exc


def _recurse_form(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    yield from _recurse(value)


def _selector(kinds: tuple[str, ...]) -> Callable[[tuple[Node, ...], Any], Iterator[Any]]:
    def select(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
        if _type(value) in kinds:
            yield value

    return select


_SELECTORS = {
    "numbers": ("number",),
    "strings": ("string",),
    "booleans": ("boolean",),
    "nulls": ("null",),
    "arrays": ("array",),
    "objects": ("object",),
    "iterables": ("array", "object"),
    "scalars": ("null", "boolean", "number", "string"),
}


# The functions that take their arguments as programs (name, arity); the other one-argument functions
# (`_with_arg`) take each value of their argument.
_FORMS: dict[tuple[str, int], Callable[[tuple[Node, ...], Any], Iterator[Any]]] = {
    ("empty", 0): _empty,
    ("select", 1): _select,
    ("map", 1): _map,
    ("range", 1): _range,
    ("range", 2): _range,
    ("sort_by", 1): _sort_by,
    ("min_by", 1): _min_by,
    ("max_by", 1): _max_by,
    ("limit", 2): _limit,
    ("group_by", 1): _group_by,
    ("any", 1): _any,
    ("all", 1): _all,
    ("test", 1): lambda args, value: _regex("test", args, value),
    ("sub", 2): lambda args, value: _regex("sub", args, value),
    ("gsub", 2): lambda args, value: _regex("gsub", args, value),
    ("recurse", 0): _recurse_form,
    ("splits", 1): _splits,
    **{(name, 0): _selector(kinds) for name, kinds in _SELECTORS.items()},
}


# The one-argument functions on strings (input and argument both strings, as jq requires).
_STRING_ARG: dict[str, Callable[[str, str], Any]] = {
    "split": lambda value, arg: value.split(arg),
    "startswith": lambda value, arg: value.startswith(arg),
    "endswith": lambda value, arg: value.endswith(arg),
    "ltrimstr": lambda value, arg: value[len(arg) :] if value.startswith(arg) else value,
    "rtrimstr": lambda value, arg: value[: -len(arg)] if arg and value.endswith(arg) else value,
}


def _join(value: Any, arg: Any) -> str:
    return str(arg).join("" if v is None else v if isinstance(v, str) else json.dumps(v) for v in _values(value))


# The other one-argument functions that take each value of their argument.
_VALUE_ARG: dict[str, Callable[[Any, Any], Any]] = {
    "has": lambda value, arg: _has(value, arg),
    "join": _join,
    "index": lambda value, arg: _first_index(value, arg),
    "contains": lambda value, arg: _contains(value, arg),
}


def _with_arg(name: str, value: Any, arg: Any) -> Any:
    on_strings = _STRING_ARG.get(name)
    if on_strings is not None:
        if not (isinstance(value, str) and isinstance(arg, str)):
            raise JqError(f"jq: {name} needs string input and argument, got {_type(value)} and {_type(arg)}")
        return on_strings(value, arg)
    on_values = _VALUE_ARG.get(name)
    if on_values is None:
        raise JqError(f"jq: unknown function {name}/1")
    return on_values(value, arg)


def _has(value: Any, arg: Any) -> bool:
    if isinstance(value, dict | None) and isinstance(arg, str):
        return arg in (value or {})
    if isinstance(value, list | None) and isinstance(arg, int | float) and not isinstance(arg, bool):
        return 0 <= arg < len(value or [])
    raise JqError(f"jq: cannot check whether {_type(value)} has a {_type(arg)} key")


def _first_index(value: Any, arg: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and isinstance(arg, str):
        found = value.find(arg)
        return None if found < 0 or not arg else found
    if isinstance(value, list):
        probe = arg if isinstance(arg, list) else [arg]
        n = len(probe)
        return next((i for i in range(len(value) - n + 1) if value[i : i + n] == probe), None)
    raise JqError(f"jq: cannot index {_type(value)} with {_type(arg)}")


def _contains(a: Any, b: Any) -> bool:
    if _type(a) != _type(b):
        raise JqError(f"jq: {_type(a)} and {_type(b)} cannot have their containment checked")
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in a and _contains(a[k], v) for k, v in b.items())
    if isinstance(a, list) and isinstance(b, list):
        return all(any(_contains(x, y) for x in a) for y in b)
    if isinstance(a, str) and isinstance(b, str):
        return b in a
    return bool(a == b)
