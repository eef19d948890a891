"""Expressions: Jinja2 in its sandbox with strict undefined; dicts and lists render as compact JSON.

The context (`taskrun`, `parents`, `parent`, `outputs`, `inputs`, `vars`, `execution`, `flow`, `task`,
`labels`) is built by the executor (`conveyor.executor.context`) and shipped in each worker job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from conveyor.common.errors import RenderError


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _finalize(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return to_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return value


def _from_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _is_json(value: Any) -> bool:
    if isinstance(value, dict | list):
        return True
    if not isinstance(value, str):
        return False
    try:
        return isinstance(json.loads(value), dict | list)
    except ValueError:
        return False


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, finalize=_finalize, autoescape=False, keep_trailing_newline=True
    )
    env.filters["json"] = to_json
    env.filters["toJson"] = to_json
    env.filters["fromJson"] = _from_json
    env.filters["from_json"] = _from_json
    env.tests["json"] = _is_json
    env.globals["fromJson"] = _from_json
    return env


ENV = _environment()


@lru_cache(maxsize=4096)
def _compile(template: str) -> Any:
    return ENV.from_string(template)


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def render(template: str, context: Mapping[str, Any], task_id: str | None = None) -> str:
    """Render one string; a failure raises `RenderError` naming the expression (and the task)."""
    if not is_template(template):
        return template
    try:
        return str(_compile(template).render(context))
    except UndefinedError as exc:
        raise RenderError(template, str(exc), task_id) from exc
    except TemplateError as exc:
        raise RenderError(template, f"{type(exc).__name__}: {exc}", task_id) from exc
    except Exception as exc:  # a filter or method raised: still the template's failure
        raise RenderError(template, f"{type(exc).__name__}: {exc}", task_id) from exc


def render_value(value: Any, context: Mapping[str, Any], task_id: str | None = None) -> Any:
    """Render every string inside a value (dicts and lists recursively); other values pass through."""
    if isinstance(value, str):
        return render(value, context, task_id)
    if isinstance(value, list):
        return [render_value(v, context, task_id) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context, task_id) for k, v in value.items()}
    return value
