"""Who is calling, and what they may do: the one API every route asks.

`api/authn.py` puts the caller's `Identity` on the request (`request.state.identity`) or leaves none. Routes
then call `require(request, role, namespace)` (401 without an identity, 403 without the role there),
`readable(request)` for the namespace prefixes a search is confined to (inside the Elasticsearch query:
`SearchFilters.allowed`), or `may_read(request, namespace)` where an unreadable thing answers 404 like an
unknown one. `who` names the caller for the audit trail.
"""

from __future__ import annotations

from fastapi import Request

from conveyor.api.errors import ApiError
from conveyor.common.auth import Identity, Role

ANONYMOUS = "anonymous"
# The challenge of a 401: Basic for people and scripts, Bearer for tokens.
CHALLENGE = {"WWW-Authenticate": 'Basic realm="conveyor", charset="UTF-8"'}


def identity(request: Request) -> Identity | None:
    found = getattr(request.state, "identity", None)
    return found if isinstance(found, Identity) else None


def who(request: Request) -> str:
    """The name of the identity behind the request; for refused credentials the name they claimed (a user,
    `token:<id>`); "anonymous" without any."""
    found = identity(request)
    if found is not None:
        return found.name
    claimed = getattr(request.state, "claimed", None)
    return str(claimed) if claimed else ANONYMOUS


def authenticated(request: Request) -> Identity:
    found = identity(request)
    if found is None:
        raise ApiError(
            401,
            "authentication required: Basic (user and password), a Bearer token, or a session (sign in at /login)",
            headers=CHALLENGE,
        )
    return found


def require(request: Request, role: Role, namespace: str) -> Identity:
    """The caller, when it holds `role` on `namespace`; 401 without credentials, 403 without the role."""
    caller = authenticated(request)
    if not caller.allows(role, namespace):
        where = f"namespace {namespace!r}" if namespace else "every namespace"
        raise ApiError(403, f"{caller.name} may not do this: the {role.value} role on {where} is required")
    return caller


def require_admin(request: Request) -> None:
    """FastAPI dependency of the admin-only routes."""
    require(request, Role.ADMIN, "")


def readable(request: Request, role: Role = Role.VIEWER) -> tuple[str, ...] | None:
    """The namespace prefixes the caller holds `role` on (None: every namespace); 403 when none."""
    caller = authenticated(request)
    prefixes = caller.prefixes(role)
    if prefixes is not None and not prefixes:
        raise ApiError(403, f"{caller.name} may not do this: the {role.value} role on some namespace is required")
    return None if prefixes is None else tuple(prefixes)


def may_read(request: Request, namespace: str) -> bool:
    """Whether the caller may read `namespace` (401 without credentials)."""
    return authenticated(request).allows(Role.VIEWER, namespace)
