"""Which namespaces' KV entries, namespace files and secrets a flow may use (`NamespaceAccessSettings`,
`CONVEYOR_NAMESPACES_*`).

A flow of namespace `company.team` reaches its own namespace and its parents (`company`) — the reference's
`KVStoreService` lets a namespace read its parents' KV store the same way. Any other namespace needs a rule of
`CONVEYOR_NAMESPACES_ALLOWED`, the reference's Enterprise "allowed namespaces" of that namespace: without one,
`kv('k', namespace='other')`, the kv tasks with `namespace: other` and `namespaceFiles.namespaces: [other]`
fail their task run with the reference's words. A secret named in `CONVEYOR_NAMESPACES_SECRETS` is read only
by flows of the namespaces listed for it (each with its children); the others are every flow's.

Patterns: `team` is that namespace, `team.*` it and every namespace below it, `*` every namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from conveyor.common.errors import ConveyorError
from conveyor.common.settings import NamespaceAccessSettings


class NamespaceAccessDenied(ConveyorError):
    """A flow reached for a namespace (or a secret) it is not allowed to use."""


def within(namespace: str, ancestor: str) -> bool:
    """`namespace` is `ancestor` or a namespace below it (by whole segments: `company` is not in `comp`)."""
    return namespace == ancestor or namespace.startswith(ancestor + ".")


def matches(namespace: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return within(namespace, pattern[:-2])
    return namespace == pattern


def allowed(target: str, origin: str, rules: Mapping[str, list[str]]) -> bool:
    """May a flow of `origin` use the KV store and namespace files of `target`?"""
    if within(origin, target):  # its own namespace, or a parent of it
        return True
    return any(
        matches(target, namespace) and any(matches(origin, pattern) for pattern in origins)
        for namespace, origins in rules.items()
    )


@cache
def settings() -> NamespaceAccessSettings:
    """This process's rules (read once, like the other settings of expressions)."""
    return NamespaceAccessSettings()


def check_kv(target: str, origin: str | None, rules: Mapping[str, list[str]] | None = None) -> None:
    """`NamespaceAccessDenied` in the reference's words when `origin`'s flows may not use `target`'s KV store
    (no origin: a caller outside any flow, the API or the CLI, whose roles decided already)."""
    if origin is not None and not allowed(target, origin, settings().allowed if rules is None else rules):
        raise NamespaceAccessDenied(
            f"Cannot access the KV store. Access to '{target}' namespace is not allowed from '{origin}'."
        )


def check_files(target: str, origin: str, rules: Mapping[str, list[str]] | None = None) -> None:
    if not allowed(target, origin, settings().allowed if rules is None else rules):
        raise NamespaceAccessDenied(
            f"Cannot access the namespace files of '{target}'. Access to '{target}' namespace is not allowed "
            f"from '{origin}' (CONVEYOR_NAMESPACES_ALLOWED)."
        )


def check_secret(name: str, origin: str | None, scopes: Mapping[str, list[str]] | None = None) -> None:
    """`NamespaceAccessDenied` when the secret `name` is kept to namespaces `origin` is not in (or below)."""
    scopes = settings().secrets if scopes is None else scopes
    namespaces = scopes.get(name)
    if namespaces is None:
        return
    if origin is None or not any(within(origin, n.removesuffix(".*")) or n == "*" for n in namespaces):
        raise NamespaceAccessDenied(
            f"secret {name!r} is not allowed from namespace {origin!r} (CONVEYOR_NAMESPACES_SECRETS)"
        )
