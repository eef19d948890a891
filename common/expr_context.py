"""The expression functions and variables that come from outside the execution: `secret()`, `kv()`, `envs`
and `globals`.

- `secret('NAME')` (and `secret('NAME', subkey='k')` of a JSON secret) reads the process's `SecretBackend`
  (`common/secret_backends.py`), or the one under the context key `_secrets`. Each value read is added to the
  `Revealed` under `_revealed`, when the caller put one there: a worker masks those values in every log line,
  output and error of the attempt (`******`).
- `kv('key', namespace=flow.namespace, errorOnMissing=true)` reads the KV store under `_kv` (`common/kv.py`):
  a worker puts its `KvStore` there, an executor its `executor.kv.KvTable` (flowable properties).
- Both check that the flow's namespace may use what they read (`common/namespace_access.py`).
- `envs` and `globals` come from `ContextSettings` (`CONVEYOR_CONTEXT_*`) of the rendering process.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from functools import cache
from typing import Any, Protocol

from jinja2 import TemplateError, pass_context
from jinja2.runtime import Context

from conveyor.common.kv import KvEntry, KvError, missing
from conveyor.common.namespace_access import check_kv, check_secret
from conveyor.common.secret_backends import SecretNotFound, default_backend
from conveyor.common.settings import ContextSettings

SECRETS_KEY = "_secrets"
REVEALED_KEY = "_revealed"
KV_KEY = "_kv"
MASK = "******"


class KvReader(Protocol):
    def get(self, namespace: str, key: str) -> KvEntry | None: ...


class Revealed:
    """The secret values an attempt's expressions read: masked wherever the attempt writes text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._ordered: list[str] = []

    def add(self, value: str) -> None:
        if not value:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._ordered = sorted(self._values, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._ordered)

    def redact(self, text: str) -> str:
        for value in self._ordered:
            text = text.replace(value, MASK)
        return text

    def mask(self, value: Any) -> Any:
        """`value` (nested) with every revealed secret inside its strings (and keys) written `******`."""
        if not self._ordered:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.mask(k): self.mask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask(v) for v in value]
        return value


def _flow_namespace(ctx: Context) -> str | None:
    flow = ctx.get("flow")
    found = flow.get("namespace") if isinstance(flow, Mapping) else None
    return str(found) if found else None


@pass_context
def secret(ctx: Context, name: Any, subkey: Any = None) -> str:
    check_secret(str(name), _flow_namespace(ctx))
    backend = ctx.get(SECRETS_KEY)
    found = (backend if backend is not None else default_backend()).get(str(name))
    revealed = ctx.get(REVEALED_KEY)
    if isinstance(revealed, Revealed):
        revealed.add(found)
    if subkey is None:
        return found
    return _subkey(str(name), found, str(subkey), revealed)


def _subkey(name: str, found: str, subkey: str, revealed: Any) -> str:
    try:
        parsed = json.loads(found)
    except ValueError as exc:
        raise SecretNotFound(f"secret {name!r} is not a JSON object: no subkey {subkey!r}") from exc
    if not isinstance(parsed, dict) or subkey not in parsed:
        raise SecretNotFound(f"secret {name!r} has no subkey {subkey!r}")
    value = parsed[subkey]
    text = value if isinstance(value, str) else json.dumps(value)
    if isinstance(revealed, Revealed):
        revealed.add(text)
    return text


@pass_context
def kv(ctx: Context, key: Any, namespace: Any = None, errorOnMissing: Any = True) -> Any:
    store = ctx.get(KV_KEY)
    if store is None:
        raise TemplateError("kv(): this process reads no KV store")
    origin = _flow_namespace(ctx)
    ns = namespace or origin
    if not ns:
        raise KvError("kv(): no namespace given and no flow namespace in this context")
    check_kv(str(ns), origin)
    entry = store.get(str(ns), str(key))
    if entry is None:
        if errorOnMissing:
            raise missing(str(ns), str(key))
        return None
    return entry.value


FUNCTIONS = {"secret": secret, "kv": kv}


def allowed_envs(names: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The `envs` variable: the allowlisted variables, named lowercase without a leading `ENV_`."""
    found: dict[str, str] = {}
    for allowed in names:
        if allowed.endswith("*"):
            matched = [n for n in environ if n.startswith(allowed[:-1])]
        else:
            matched = [allowed] if allowed in environ else []
        for name in matched:
            found[name.removeprefix("ENV_").lower()] = environ[name]
    return found


@cache
def variables() -> dict[str, Any]:
    """`envs` and `globals` of this process (read once), each only when it holds something (an empty one is
    undefined, so `envs.x ?? 'default'` still falls back)."""
    settings = ContextSettings()
    found = {"envs": allowed_envs(settings.env_allowlist, os.environ), "globals": settings.globals}
    return {name: value for name, value in found.items() if value}
