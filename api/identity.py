"""Who is calling: the one place the audit trail and the admin-only routes ask.

Authentication (another change) sets the identity on the request; until it is merged, `who` reads the name
from `request.state.identity_name` and `require_admin` the roles from `request.state.identity_roles`, so the
integrator points these two functions at the authentication's own dependency and `require(role, namespace)`.
Without an identity nobody is an admin: the admin-only routes answer 403.
"""

from __future__ import annotations

from fastapi import Request

from conveyor.api.errors import ApiError

ANONYMOUS = "anonymous"
ADMIN = "ADMIN"


def who(request: Request) -> str:
    """The name of the identity behind the request, "anonymous" without one."""
    name = getattr(request.state, "identity_name", None)
    return str(name) if name else ANONYMOUS


def require_admin(request: Request) -> None:
    """FastAPI dependency of the admin-only routes: 403 unless the identity holds the ADMIN role."""
    roles = getattr(request.state, "identity_roles", None) or ()
    if ADMIN not in roles:
        raise ApiError(403, f"{who(request)} may not do this: the {ADMIN} role is required")
