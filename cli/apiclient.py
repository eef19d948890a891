"""The CLI's calls to `conveyor server` (standard library HTTP), authenticated as `cli/credentials.py` says."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from conveyor.cli.credentials import authorization
from conveyor.common.errors import ConveyorError
from conveyor.common.settings import ApiClientSettings, local_stack


class ApiUnavailable(ConveyorError):
    """The server could not be reached."""


class ApiRefused(ConveyorError):
    """The server answered an error (its message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def server_url(settings: ApiClientSettings) -> str:
    return (settings.url or str(local_stack().get("serverUrl") or "") or "http://127.0.0.1:8080").rstrip("/")


@dataclass
class ApiClient:
    url: str
    authorization: str | None

    @classmethod
    def of(cls, settings: ApiClientSettings | None = None, authorization_header: str | None = None) -> ApiClient:
        settings = settings or ApiClientSettings()
        url = server_url(settings)
        token = settings.token.get_secret_value() if settings.token else None
        return cls(url, authorization_header or authorization(url, token))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The answer's JSON (None for an empty one); `ApiRefused` for an error, `ApiUnavailable` unreachable."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.authorization:
            headers["Authorization"] = self.authorization
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            message = _message(exc.read()) or exc.reason
            if exc.code == 401 and not self.authorization:  # the server's hint is for a browser or curl
                message += f" (the CLI had no credential for {self.url}: `conveyor login`, or CONVEYOR_API_TOKEN)"
            raise ApiRefused(exc.code, message) from None
        except (OSError, ValueError) as exc:
            raise ApiUnavailable(f"{self.url}: {exc}") from None
        return json.loads(raw) if raw else None


def _message(raw: bytes) -> str | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return str(parsed.get("message")) if isinstance(parsed, dict) and parsed.get("message") else None
