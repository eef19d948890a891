"""Expressions: the reference's (Pebble) syntax on Jinja2 in its sandbox, strict about undefined values.

A template is first translated to Jinja2 (`conveyor.common.pebble`: `a ? b : c`, `??`, `equals`…), then
compiled once and cached. Dicts and lists render as compact JSON, booleans as `true`/`false`. `a.b` on a
map reads the key `b` first (so an output named `values` or `items` is the output, not a dict method).
An undefined value fails the render when it is printed, compared or iterated, but may be passed along
(`outputs.x.y ?? 'none'`, `… is defined`, `| default('none')`).

The context (`taskrun`, `parents`, `parent`, `outputs`, `inputs`, `vars`, `execution`, `flow`, `task`,
`labels`) is built by the executor (`conveyor.executor.context`) and shipped in each worker job; the
functions and filters below are the reference's: `currentEachOutput(outputs.x)`, `errorLogs()`, `now()`,
`render(s)`, `json(s)`/`fromJson(s)`, `| jq('.a')` (always a list), `| toJson`, `| default(x)`,
`| keys`, `| values`, `| date('yyyy-MM-dd')`, tests `is json`, `is empty`, `is contains`, `is null`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from conveyor.common import expr_context, expr_crypto, expr_dates, expr_files, expr_i18n, input_secrets, pebble
from conveyor.common.errors import RenderError
from conveyor.common.expr_registry import FILTERS, FUNCTIONS, TESTS
from conveyor.common.jq import JqError, jq
from conveyor.common.kafka.errors import RetryableKafkaError

# Longer templates are cut in error messages.
SHOWN = 300


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def to_json(value: Any) -> str:
    if isinstance(value, Undefined):
        raise UndefinedError(value._undefined_message)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


class Undefined(ChainableUndefined, StrictUndefined):
    """Strict when used, chainable when only passed along: `a.b.c` of a missing `a` stays undefined."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        return f"Unable to find `{self._undefined_name}`"


class _Environment(SandboxedEnvironment):
    # A SECRET input stays sealed in every context; reading it (`inputs.token`) gives its value.
    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return input_secrets.reveal(obj[attribute])
            except (KeyError, TypeError):
                pass
        return input_secrets.reveal(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        """`a[missing]` of an undefined key is undefined (so `a[missing].b ?? 'x'` falls back), not an error."""
        if isinstance(argument, Undefined):
            return self.undefined(obj=obj, hint=argument._undefined_message)
        return input_secrets.reveal(super().getitem(obj, argument))


def _finalize(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return to_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return value


def _is_json(value: Any) -> bool:
    if isinstance(value, dict | list):
        return True
    if not isinstance(value, str):
        return False
    try:
        return isinstance(json.loads(value), dict | list)
    except ValueError:
        return False


def _is_empty(value: Any) -> bool:
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping | list | tuple):
        return len(value) == 0
    return False


def _contains(container: Any, item: Any) -> bool:
    """Pebble's `contains`: a substring, a map's key, a list's item, or every item of a list given."""
    if isinstance(container, str):
        return str(item) in container
    if isinstance(item, list | tuple) and isinstance(container, Mapping | list | tuple):
        return all(i in container for i in item)
    if isinstance(container, Mapping | list | tuple):
        return item in container
    return False


def _coalesce(value: Any, fallback: Any) -> Any:
    """Pebble's `??`: the fallback when the value is undefined or null."""
    return fallback if value is None or isinstance(value, Undefined) else value


def _coalesce_undefined(value: Any, fallback: Any) -> Any:
    """Pebble's `???`: the fallback only when the value is undefined."""
    return fallback if isinstance(value, Undefined) else value


def _default(value: Any, fallback: Any = "") -> Any:
    return fallback if _is_empty(value) else value


def _jq(value: Any, program: str) -> list[Any]:
    """The value as JSON holds it (dates as ISO strings), then jq on it."""
    return jq(json.loads(to_json(_plain(value))), str(program))


def _plain(value: Any) -> Any:
    if isinstance(value, Undefined):
        raise UndefinedError(value._undefined_message)
    return value


@pass_context
def _current_each_output(ctx: Context, outputs: Any) -> Any:
    """The entry of `outputs` for the current value path: the values of the parents, outermost first, then
    the task run's own value (`outputs.x[v1][v2]` inside two nested ForEach)."""
    node = _plain(outputs)
    path = [p.get("taskrun", {}).get("value") for p in reversed(ctx.get("parents") or [])]
    taskrun = ctx.get("taskrun")
    path.append(taskrun.get("value") if isinstance(taskrun, Mapping) else None)
    for value in path:
        if value is None:
            continue
        if not isinstance(node, Mapping) or value not in node:
            raise UndefinedError(f"Unable to find the output for value `{value}` in currentEachOutput")
        node = node[value]
    return node


@pass_context
def _error_logs(ctx: Context) -> list[Any]:
    """The execution's ERROR log lines so far (one per failed attempt), for `errors` branches."""
    return list(ctx.get("_errorLogs") or [])


# How many times `render(s)` renders a template that renders to a template again.
MAX_RENDER_DEPTH = 50


@pass_context
def _render_again(ctx: Context, value: Any, recursive: bool = True) -> Any:
    """`render(x, recursive=true)`: renders a string that is itself a template (e.g. a variable holding
    `{{ … }}`) again and again while it still is one (once with `recursive=false`); in a map or a list,
    every string inside."""
    if isinstance(value, Mapping):
        return {k: _render_again(ctx, v, recursive) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render_again(ctx, v, recursive) for v in value]
    if not isinstance(value, str):
        return value
    values = ctx.get_all()
    for _ in range(MAX_RENDER_DEPTH if recursive else 1):
        if not is_template(value):
            return value
        rendered = str(_compile(value).render(values))
        if rendered == value:
            return value
        value = rendered
    if recursive and is_template(value):
        raise TemplateError(f"render: Too many rendering attempts ({MAX_RENDER_DEPTH}): a template renders to itself")
    return value


@pass_context
def _render_once(ctx: Context, value: Any) -> Any:
    """`renderOnce(x)`: `render(x, recursive=false)`."""
    return _render_again(ctx, value, recursive=False)


@pass_context
def _print_context(ctx: Context) -> dict[str, Any]:
    """`printContext()` (and `fetchContext()`): the variables an expression sees, without the functions."""
    return {k: v for k, v in ctx.get_all().items() if not k.startswith("_") and not callable(v)}


# The context key that pins `now()`: the executor renders with its decision's clock, so that a decision is
# reproducible; without it (a worker rendering a task's properties) `now()` is the wall clock.
NOW_KEY = "_now"


@pass_context
def _now(ctx: Context, format: Any = None, timeZone: Any = None, locale: Any = None) -> str:
    pinned = ctx.get(NOW_KEY)
    return expr_dates.now(pinned if isinstance(pinned, datetime) else None, format, timeZone, locale)


@pass_context
def _extends(ctx: Context, name: Any) -> Any:
    """`{% extends "layout.peb" %}`: the parent template is a file of the flow's namespace (Pebble reads it from
    its loader; here the namespace files are the templates a flow can name)."""
    if not isinstance(name, str):
        raise TemplateError(f"extends: expected the path of a namespace file, got {type(name).__name__}")
    return _compile(expr_files.read_namespace_file(ctx, name))


def _environment() -> SandboxedEnvironment:
    env = _Environment(undefined=Undefined, finalize=_finalize, autoescape=False, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    env.filters.update(json=to_json, toJson=to_json, jq=_jq, default=_default)
    env.tests.update(TESTS)
    env.tests.update(json=_is_json, empty=_is_empty, contains=_contains)
    functions = {
        **FUNCTIONS,
        **expr_context.FUNCTIONS,
        **expr_crypto.FUNCTIONS,
        **expr_i18n.FUNCTIONS,
        "currentEachOutput": _current_each_output,
        "errorLogs": _error_logs,
        "render": _render_again,
        "renderOnce": _render_once,
        "printContext": _print_context,
        "fetchContext": _print_context,
        "now": _now,
    }
    env.globals.update(functions)
    env.globals.update({pebble.FUNCTION_PREFIX + name: function for name, function in functions.items()})
    env.globals.update({pebble.COALESCE: _coalesce, pebble.COALESCE_UNDEFINED: _coalesce_undefined})
    env.globals[pebble.EXTENDS] = _extends
    return env


ENV = _environment()
FUNCTION_NAMES = frozenset(
    name[len(pebble.FUNCTION_PREFIX) :] for name in ENV.globals if name.startswith(pebble.FUNCTION_PREFIX)
)


@lru_cache(maxsize=4096)
def _compile(template: str) -> Any:
    return ENV.from_string(pebble.translate(template, FUNCTION_NAMES))


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def syntax_error(template: str) -> tuple[int, str] | None:
    """Where (the template's line, from 1) and why the expressions of `template` cannot compile; None if they
    can. Rendering them would fail the same way, whatever the context: the flow loader refuses them early."""
    if not is_template(template):
        return None
    try:
        _compile(template)
    except TemplateSyntaxError as exc:
        return exc.lineno, exc.message or str(exc)
    return None


def render(template: str, context: Mapping[str, Any], task_id: str | None = None) -> str:
    """Render one string; a failure raises `RenderError` naming the expression (and the task), without the
    value of any secret the expression read (the executor's own log lines quote these errors)."""
    if not is_template(template):
        return template
    given = context.get(expr_context.REVEALED_KEY)
    revealed = given if isinstance(given, expr_context.Revealed) else expr_context.Revealed()
    try:
        return str(
            _compile(template).render({**expr_context.variables(), **context, expr_context.REVEALED_KEY: revealed})
        )
    except RetryableKafkaError:
        raise  # a look-up (`kv()`) could not read Kafka: not the template's failure, the caller tries again
    except Exception as exc:
        raise RenderError(template, revealed.redact(_reason(exc, template)), task_id) from exc


def _reason(exc: Exception, template: str) -> str:
    if isinstance(exc, UndefinedError):
        message = str(exc)
        if message.startswith("Unable to find"):
            message += f" used in the expression `{_shown(template)}`"
        return message
    if isinstance(exc, JqError):
        return str(exc)
    # a template error, or a filter or method that raised: still the template's failure
    return f"{type(exc).__name__}: {exc}"


def _shown(template: str) -> str:
    text = template.strip()
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def render_value(value: Any, context: Mapping[str, Any], task_id: str | None = None) -> Any:
    """Render every string inside a value (dicts and lists recursively); other values pass through."""
    if isinstance(value, str):
        return render(value, context, task_id)
    if isinstance(value, list):
        return [render_value(v, context, task_id) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context, task_id) for k, v in value.items()}
    return value
