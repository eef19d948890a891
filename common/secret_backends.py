"""Where `{{ secret('NAME') }}` reads a secret: a `SecretBackend`, chosen by `CONVEYOR_SECRETS_BACKEND`.

- `env` (`EnvSecrets`): the variable `SECRET_<NAME>` of the process rendering the expression holds the value
  in base64, the reference's open-source convention (`SECRET_GITHUB_TOKEN=$(printf %s "$TOKEN" | base64)`).
- `files` (`FileSecrets`): one file per secret in a folder, its content the value (a Kubernetes Secret
  mounted as a volume). A trailing newline is kept out, as `kubectl create secret --from-file` keeps it in
  only when the file had one; names are plain file names (no `/`, no `..`).

A missing secret raises `SecretNotFound` naming it and the backend, never showing another secret's value.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Protocol

from conveyor.common.errors import ConveyorError
from conveyor.common.settings import SecretsSettings

# A secret's name: what an environment variable or a file name can hold.
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class SecretNotFound(ConveyorError):
    """A flow asked for a secret the backend does not have (or cannot read)."""


class SecretBackend(Protocol):
    def get(self, name: str) -> str:
        """The secret's value; `SecretNotFound` naming it when there is none."""
        ...


def _checked(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise SecretNotFound(f"secret name {name!r} is not valid: letters, digits, `_`, `.` and `-` only")
    return name


class EnvSecrets:
    def __init__(self, environ: Mapping[str, str] | None = None, prefix: str = "SECRET_") -> None:
        self._environ = os.environ if environ is None else environ
        self._prefix = prefix

    def get(self, name: str) -> str:
        variable = self._prefix + _checked(name).upper()
        encoded = self._environ.get(variable)
        if encoded is None:
            raise SecretNotFound(f"secret {name!r} is not defined: no environment variable {variable}")
        try:
            return base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise SecretNotFound(f"secret {name!r}: {variable} is not base64 of UTF-8 text") from exc


class FileSecrets:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def get(self, name: str) -> str:
        path = self._directory / _checked(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise SecretNotFound(f"secret {name!r} is not defined: no file {name} in {self._directory}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretNotFound(f"secret {name!r}: cannot read {path}: {type(exc).__name__}") from exc
        return text.removesuffix("\n")


def backend_of(settings: SecretsSettings) -> SecretBackend:
    if settings.backend == "files":
        assert settings.directory is not None  # the settings refuse `files` without it
        return FileSecrets(settings.directory)
    return EnvSecrets(prefix=settings.env_prefix)


@cache
def default_backend() -> SecretBackend:
    """The process's backend, from its `CONVEYOR_SECRETS_*` settings (read once)."""
    return backend_of(SecretsSettings())
