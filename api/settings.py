"""The server's own settings (`CONVEYOR_SERVER_*`); Kafka and Elasticsearch come from the shared settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """`conveyor server`: the HTTP API and the Task Runs page."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_SERVER_", frozen=True, extra="ignore")

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

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
