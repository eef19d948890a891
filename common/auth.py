"""Who may do what: roles bound to namespace prefixes, the identities that hold them, and API tokens.

Roles are ordered, each one allowing what the one below it allows and more:

- `viewer` reads executions, task runs, logs, outputs, files and flows;
- `runner` also starts, kills, restarts, resumes, replays executions and changes their state;
- `developer` also deploys and deletes flows;
- `admin` also manages other identities' tokens and reads the audit trail.

A `Binding` gives a role on a namespace prefix: `""` is every namespace, `team.a` covers `team.a` and
`team.a.*`, never `team.ab` (the search's own namespace rule). The server, the CLI and the tests share these
models; the server's `api/identity.py` checks them on every request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from conveyor.common.base import Model


class Role(StrEnum):
    VIEWER = "viewer"
    RUNNER = "runner"
    DEVELOPER = "developer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        """This role allows everything `other` allows."""
        return self.rank >= other.rank


def covers(prefix: str, namespace: str) -> bool:
    """`prefix` (a binding's namespace) covers `namespace`: equal, or a parent on a dot; `""` covers all."""
    return prefix == "" or namespace == prefix or namespace.startswith(prefix + ".")


class Binding(Model):
    """A role on every namespace under a prefix."""

    role: Role
    namespace: str = Field(default="", max_length=250, description='namespace prefix; "" is every namespace')

    def allows(self, role: Role, namespace: str) -> bool:
        return self.role.includes(role) and covers(self.namespace, namespace)

    def within(self, others: Iterable[Binding]) -> bool:
        """Some binding of `others` allows all this one does (a token's scope never exceeds its creator's)."""
        return any(o.role.includes(self.role) and covers(o.namespace, self.namespace) for o in others)

    def __str__(self) -> str:
        return f"{self.role.value}@{self.namespace or '*'}"


def parse_binding(text: str) -> Binding:
    """`developer@team.a`, `viewer` (every namespace) or `admin@*`; ValueError naming what is expected."""
    role, _, namespace = text.strip().partition("@")
    try:
        parsed = Role(role.strip().lower())
    except ValueError:
        raise ValueError(f"{text!r}: the role must be one of {', '.join(r.value for r in Role)}") from None
    namespace = namespace.strip()
    return Binding(role=parsed, namespace="" if namespace == "*" else namespace)


class Identity(Model):
    """The caller of a request: a user (password or OIDC), a token, or the configured anonymous access."""

    name: str
    kind: str = Field(description="user, token, oidc or anonymous")
    bindings: tuple[Binding, ...] = ()
    groups: tuple[str, ...] = ()
    # For a token: its id, so that `GET /api/v1/me` and the audit say which one.
    token_id: str | None = None

    def allows(self, role: Role, namespace: str) -> bool:
        return any(b.allows(role, namespace) for b in self.bindings)

    def prefixes(self, role: Role = Role.VIEWER) -> list[str] | None:
        """The namespace prefixes this identity holds `role` on; None when that is every namespace."""
        found = [b.namespace for b in self.bindings if b.role.includes(role)]
        return None if "" in found else sorted(set(found))

    @property
    def is_admin(self) -> bool:
        return self.allows(Role.ADMIN, "")


def merged(*groups: Sequence[Binding]) -> tuple[Binding, ...]:
    """The bindings of several sources (a user's own, its groups'), each one once, in order."""
    seen: dict[tuple[Role, str], Binding] = {}
    for group in groups:
        for binding in group:
            seen.setdefault((binding.role, binding.namespace), binding)
    return tuple(seen.values())


class ApiToken(Model):
    """An API token as stored on the compacted `auth-tokens` topic (key: its id): never the token itself,
    only its SHA-256. A token is 32 random bytes, so a fast hash is as safe as a slow one: nobody can guess
    a preimage, and comparing digests in constant time leaks nothing."""

    id: str
    name: str = Field(max_length=100)
    owner: str
    bindings: tuple[Binding, ...]
    sha256: str
    created_at: datetime
    expires_at: datetime | None = None
    created_by: str

    def public(self) -> dict[str, object]:
        """What listing tokens shows: everything but the digest."""
        return self.model_dump(mode="json", by_alias=True, exclude={"sha256"}, exclude_none=True)
