"""The server's own settings (`CONVEYOR_SERVER_*`); Kafka and Elasticsearch come from the shared settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_SERVER_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # How often the web page refreshes itself by default (the page lets the user change it).
    refresh_seconds: int = Field(default=10, ge=0)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
