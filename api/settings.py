"""The server's own settings (`CONVEYOR_SERVER_*`); Kafka and Elasticsearch come from the shared settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, TypeAdapter, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from conveyor.common.auth import Binding, Role
from conveyor.common.base import Model


class UserEntry(Model):
    """A user of `CONVEYOR_AUTH_USERS` (or its file): the argon2 hash of the password, roles, groups."""

    password_hash: SecretStr = Field(description="argon2 hash (`conveyor auth hash-password`)")
    bindings: list[Binding] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)


class ServerSettings(BaseSettings):
    """`conveyor server`: the HTTP API and the Task Runs page."""

    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_SERVER_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    host: str = Field(default="127.0.0.1", description="Address `conveyor server` listens on.")
    port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        description="Port of `conveyor server` (`conveyor up` picks a free one when 8080 is taken).",
    )
    refresh_seconds: int = Field(
        default=10,
        ge=0,
        description="How often (s) the Task Runs page refreshes itself by default (the page lets the user change it).",
    )

    tls_certificate: str | None = Field(
        default=None,
        description="Certificate file (PEM, the chain after the server's own) for HTTPS; with `TLS_KEY`. Unset: "
        "plain HTTP (behind a TLS-terminating proxy, or on 127.0.0.1).",
    )
    tls_key: str | None = Field(default=None, description="Private key file (PEM) of `TLS_CERTIFICATE`.")
    tls_key_password: SecretStr | None = Field(default=None, description="Password of an encrypted `TLS_KEY`.")
    max_request_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (bytes); a larger one is answered 413 before it is read whole.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (`https://ui.example.com`, comma-separated) whose pages may call the API from a "
        "browser (CORS). Empty: none, the API answers no cross-origin request.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return [o.strip() for o in value.split(",") if o.strip()] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if bool(self.tls_certificate) != bool(self.tls_key):
            raise ValueError("CONVEYOR_SERVER_TLS_CERTIFICATE and CONVEYOR_SERVER_TLS_KEY go together")
        for name, path in (("TLS_CERTIFICATE", self.tls_certificate), ("TLS_KEY", self.tls_key)):
            if path and not Path(path).is_file():
                raise ValueError(f"CONVEYOR_SERVER_{name}: no file at {path}")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_certificate is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


class AuthSettings(BaseSettings):
    """Who may use `conveyor server`: users, groups, the page's session, anonymous access, failed sign-ins."""

    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_AUTH_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    users: dict[str, UserEntry] = Field(
        default_factory=dict,
        description='Users by name, JSON: `{"alice": {"passwordHash": "$argon2id$...", "bindings": '
        '[{"role": "developer", "namespace": "team.a"}], "groups": ["ops"]}}` (hashes from `conveyor auth '
        "hash-password`).",
    )
    users_file: str | None = Field(
        default=None,
        description="A JSON file of more users, in the same shape as `USERS` (a mounted Kubernetes Secret); read "
        "at start-up, its users added to those of `USERS`.",
    )
    group_roles: dict[str, list[Binding]] = Field(
        default_factory=dict,
        description='Bindings of each group, JSON: `{"ops": [{"role": "runner", "namespace": ""}]}`; a user (or an '
        "OIDC login) in the group holds them.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the page's session cookie (32+ characters: `openssl rand -hex 32`; the same on "
        "every server). Unset or empty: a random one per process, so sessions end when the server restarts "
        "and hold on one server only.",
    )
    session_hours: float = Field(default=12.0, gt=0, description="How long a page session lasts (hours).")
    anonymous_role: Role | None = Field(
        default=None,
        description="A role (`viewer`, ...) on every namespace for requests without credentials. Unset (the "
        "default): such requests are answered 401.",
    )
    max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins (password or token) per user, and per client address, in "
        "`FAILURE_WINDOW_SECONDS` before further attempts are answered 429.",
    )
    failure_window_seconds: float = Field(
        default=300.0, gt=0, description="The window (s) in which failed sign-ins are counted, and the longest wait."
    )
    token_days: int = Field(default=90, ge=1, description="Expiry (days) of a token created without one.")

    @field_validator("session_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("CONVEYOR_AUTH_SESSION_SECRET must be at least 32 characters (openssl rand -hex 32)")
        return value

    @model_validator(mode="after")
    def _read_users_file(self) -> AuthSettings:
        if not self.users_file:
            return self
        path = Path(self.users_file)
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"CONVEYOR_AUTH_USERS_FILE: cannot read {path} as JSON: {exc}") from None
        extra = TypeAdapter(dict[str, UserEntry]).validate_python(raw)
        object.__setattr__(self, "users", {**self.users, **extra})
        return self
