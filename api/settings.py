"""The server's own settings (`CONVEYOR_SERVER_*`); Kafka and Elasticsearch come from the shared settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
