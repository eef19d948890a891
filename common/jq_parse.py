"""The grammar of the `jq` filter: a program's text to the tree `conveyor.common.jq` runs (tuples, `Node`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from conveyor.common.jq_values import JqError

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


@lru_cache(maxsize=512)
def compile_program(program: str) -> Node:
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
