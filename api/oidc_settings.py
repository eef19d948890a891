"""The OIDC login's settings (`CONVEYOR_OIDC_*`): which provider, which client, which claim holds the groups."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OidcSettings(BaseSettings):
    """OIDC login for the page (`/api/v1/auth/oidc/login`); off unless `ISSUER` is set."""

    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_OIDC_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    issuer: str | None = Field(
        default=None,
        description="The provider's issuer URL (`https://keycloak.example.com/realms/conveyor`); its discovery "
        "document is `ISSUER/.well-known/openid-configuration`. Unset: no OIDC login.",
    )
    client_id: str | None = Field(default=None, description="Client id of Conveyor at the provider (with `ISSUER`).")
    client_secret: SecretStr | None = Field(
        default=None,
        description="Secret of that confidential client (with `ISSUER`); it also signs the login's state cookie.",
    )
    groups_claim: str = Field(
        default="groups",
        description="The ID token claim listing the user's groups (a list of names); a dotted path reaches into "
        "an object (`realm_access.roles`). Missing: no groups.",
    )
    redirect_base_url: str | None = Field(
        default=None,
        description="The server's public URL (`https://conveyor.example.com`): the callback registered at the "
        "provider is `REDIRECT_BASE_URL/api/v1/auth/oidc/callback`. Unset: the URL the browser used.",
    )
    scopes: str = Field(
        default="openid profile email",
        description="Scopes asked for, space-separated; must include `openid`.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout (s) of each request to the provider (discovery, keys, token)."
    )
    state_max_age_seconds: int = Field(
        default=600, ge=30, description="How long (s) a started login may take before its callback is refused."
    )

    @field_validator("issuer", "redirect_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("must include `openid` (the ID token is what identifies the user)")
        return value

    @model_validator(mode="after")
    def _client(self) -> OidcSettings:
        if self.issuer and not (self.client_id and self.client_secret and self.client_secret.get_secret_value()):
            raise ValueError("CONVEYOR_OIDC_ISSUER needs CONVEYOR_OIDC_CLIENT_ID and CONVEYOR_OIDC_CLIENT_SECRET")
        return self

    @property
    def enabled(self) -> bool:
        return self.issuer is not None

    @property
    def discovery_url(self) -> str:
        return f"{(self.issuer or '').rstrip('/')}/.well-known/openid-configuration"
