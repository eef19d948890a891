"""Who an OIDC login is: the validated ID token's claims read into an `OidcLogin`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OidcLogin:
    """A user the provider vouched for: `subject` is the ID token's `sub` (stable at that provider), `name` its
    `preferred_username`, else `name`, else `email`, else `sub`; `groups` from the configured groups claim."""

    subject: str
    name: str
    email: str | None
    groups: tuple[str, ...]


def login_of(claims: Mapping[str, Any], groups_claim: str) -> OidcLogin:
    subject = str(claims["sub"])
    email = claims.get("email")
    name = next(
        (str(claims[key]) for key in ("preferred_username", "name", "email") if claims.get(key)),
        subject,
    )
    return OidcLogin(
        subject=subject,
        name=name,
        email=str(email) if email else None,
        groups=groups_of(claims, groups_claim),
    )


def groups_of(claims: Mapping[str, Any], claim: str) -> tuple[str, ...]:
    """The group names under `claim` (a dotted path reaches into objects): a list of names, or one name.
    Anything else, or nothing there, is no groups; a leading `/` (Keycloak's full group path) is kept."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(dict.fromkeys(item for item in value if isinstance(item, str) and item))
    return ()
