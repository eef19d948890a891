"""A small, pure-Python subset of jq for the `jq('…')` expression filter (the reference's `jq` filter).

`jq(value, program)` returns every output of `program` run on `value` as a list, as the reference does
(a string input is parsed as JSON first when it is JSON). Pure Python on purpose: the C library's `env`
and `$ENV` would hand a flow the worker's environment.

Limits (`JqSettings`: `CONVEYOR_JQ_TIMEOUT`, `CONVEYOR_JQ_MAX_RESULT`): one run may take so long and produce so
many values (counted as they are made, so `[range(20000000)]` stops at the limit, quickly); past either it
raises `JqError` naming the limit, and the expression, so its task run, fails.

Supported: `.`, `..`, `.a`, `."a"`, `.[n]`, `.["a"]`, `.[]`, `.[n:m]`, the `?` suffix, `|`, `,`, `//`,
arithmetic, comparisons, `and`/`or`/`not`, literals, `[…]` and `{…}` construction, `(…)`, `if … then
… elif … else … end`, and the builtins of `conveyor.common.jq_values` plus `select`, `map`, `has`, `join`, `split`,
`startswith`, `endswith`, `contains`, `ltrimstr`, `rtrimstr`, `sort_by`, `min_by`, `max_by`, `range`, `empty`,
`paths`, `leaf_paths`, `getpath`, `tostream` (`conveyor.common.jq_paths`).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from conveyor.common import jq_paths, regexps
from conveyor.common.jq_parse import Node, compile_program
from conveyor.common.jq_values import (
    _BUILTINS,
    JqError,
    _binary,
    _index,
    _order_key,
    _recurse,
    _slice,
    _string,
    _truthy,
    _type,
    _values,
    _with_arg,
)
from conveyor.common.settings import JqSettings

__all__ = ["JqError", "Limits", "default_limits", "jq"]


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
        return list(_eval(compile_program(program), value))
    except RecursionError as exc:
        raise JqError(f"jq: {program!r} nests too deep") from exc
    finally:
        _BUDGET.reset(token)


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


def _paths_of(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    """`paths(f)`: the paths (but the empty one) of the values for which `f` gives a true value (once for each
    true value it gives, as jq's `select`)."""
    for path, found in jq_paths.walk(value):
        if path:
            yield from (list(path) for c in _eval(args[0], found) if _truthy(c))


def _getpath(args: tuple[Node, ...], value: Any) -> Iterator[Any]:
    for path in _eval(args[0], value):
        yield jq_paths.getpath(value, path)


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
    ("paths", 0): lambda args, value: jq_paths.paths(value),
    ("paths", 1): _paths_of,
    ("leaf_paths", 0): lambda args, value: _paths_of((("call", "scalars", ()),), value),
    ("getpath", 1): _getpath,
    ("tostream", 0): lambda args, value: jq_paths.tostream(value),
    **{(name, 0): _selector(kinds) for name, kinds in _SELECTORS.items()},
}
